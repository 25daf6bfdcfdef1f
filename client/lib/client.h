// ActdClient: one blocking method per RPC of activation.v1.ActivationService,
// plus the grpc.health.v1 Check, over a channel built from plain options
// (target, TLS files, bearer token, load-balancing policy, deadline).
#ifndef ACTD_CLIENT_LIB_CLIENT_H_
#define ACTD_CLIENT_LIB_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "activation/v1/activation.grpc.pb.h"
#include "client/lib/service_config.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace actd::client {

// Largest message the channel sends or receives: the server's default limit.
inline constexpr int kMaxMessageBytes = 256 << 20;

struct ConnectionOptions {
  std::string target = "localhost:50051";
  bool tls = false;      // TLS with the system roots unless tls_ca is set
  std::string tls_ca;    // PEM contents (not paths); any non-empty implies TLS
  std::string tls_cert;  // client certificate for mTLS
  std::string tls_key;
  std::string token;      // sent as `authorization: Bearer <token>`
  std::string lb_policy;  // overrides the service config's policy if set
  // Service config JSON; by default client/service_config.json (round_robin
  // over every address of the target, client-side health checking, calls
  // retried on UNAVAILABLE: every RPC is pure, so a retry is safe; requests
  // above gRPC's retry buffer, 256 KiB per call by default, are not retried
  // once sent). "" = none (gRPC's pick_first, no retries).
  std::string service_config = kDefaultServiceConfig;
  double timeout_seconds = 30;   // per-call deadline; <= 0 means none
  bool own_subchannels = false;  // do not share the connection with others
};

// Builds a channel for `options` (the target's own service config, if its
// resolver returns one, wins over options.service_config; lb_policy overrides
// the policy); never fails (errors surface on first call).
std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options);

// Thread-safe; each call gets a fresh context with the deadline and token.
class ActdClient {
 public:
  explicit ActdClient(const ConnectionOptions& options);
  ActdClient(const ConnectionOptions& options,
             std::shared_ptr<grpc::Channel> channel);

  // Each call returns the response, or the gRPC status as an absl::Status
  // (same code, same message).
  absl::StatusOr<activation::v1::ListActivationsResponse> ListActivations();
  absl::StatusOr<activation::v1::ForwardResponse> Forward(
      const activation::v1::ForwardRequest& request);
  absl::StatusOr<activation::v1::BackwardResponse> Backward(
      const activation::v1::BackwardRequest& request);
  absl::StatusOr<activation::v1::BatchEvaluateResponse> BatchEvaluate(
      const activation::v1::BatchEvaluateRequest& request);
  absl::StatusOr<activation::v1::ServerInfo> GetServerInfo();
  // grpc.health.v1 Check of `service` ("" = the whole server).
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> CheckHealth(
      const std::string& service);

  // One activation's description; NOT_FOUND naming the known ones when
  // absent, with the closest name as a suggestion.
  absl::StatusOr<activation::v1::ActivationInfo> Describe(
      const std::string& name);

  // A context carrying this client's deadline and token, for callers that
  // drive the stub themselves.
  void PrepareContext(grpc::ClientContext* context) const;
  activation::v1::ActivationService::Stub& stub() { return *stub_; }

 private:
  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<activation::v1::ActivationService::Stub> stub_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// "NOT_FOUND" for grpc::StatusCode::NOT_FOUND, and so on.
std::string StatusCodeName(int code);

// The absl::Status of a gRPC status (the codes coincide).
absl::Status ToAbslStatus(const grpc::Status& status);

// `target` with the server's default port 50051 appended when it names a
// host without a port ("localhost", "10.0.0.1", "[::1]", "dns:///host");
// unix:, ipv4:/ipv6: lists and targets with a port are returned unchanged.
std::string WithDefaultPort(const std::string& target);

// The candidate closest to `word` by edit distance, when it is close enough
// to be a likely typo (at most a third of the word's length, and 2 or less);
// "" otherwise.
std::string ClosestName(const std::string& word,
                        const std::vector<std::string>& candidates);

}  // namespace actd::client

#endif  // ACTD_CLIENT_LIB_CLIENT_H_
