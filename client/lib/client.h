// ActdClient: one blocking method per RPC of activation.v1.ActivationService,
// plus the grpc.health.v1 Check, over a channel built from plain options
// (target, TLS files, bearer token, load-balancing policy, deadline).
#ifndef ACTD_CLIENT_LIB_CLIENT_H_
#define ACTD_CLIENT_LIB_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "activation/v1/activation.grpc.pb.h"
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
  std::string token;             // sent as `authorization: Bearer <token>`
  std::string lb_policy;         // e.g. "round_robin"; empty = gRPC's default
  double timeout_seconds = 30;   // per-call deadline; <= 0 means none
  bool own_subchannels = false;  // do not share the connection with others
};

// The service config the project recommends (client/service_config.json):
// round_robin over every address of the target, and calls retried on
// UNAVAILABLE (every RPC is pure, so a retry is safe). Requests above gRPC's
// retry buffer (256 KiB per call by default) are not retried once sent.
const char* DefaultServiceConfig();

// Builds a channel for `options` with DefaultServiceConfig() (the target's
// own config, if its resolver returns one, wins; lb_policy overrides the
// policy); never fails (errors surface on first call).
std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options);

// Thread-safe; each call gets a fresh context with the deadline and token.
class ActdClient {
 public:
  explicit ActdClient(const ConnectionOptions& options);
  ActdClient(const ConnectionOptions& options,
             std::shared_ptr<grpc::Channel> channel);

  grpc::Status ListActivations(activation::v1::ListActivationsResponse* out);
  grpc::Status Forward(const activation::v1::ForwardRequest& request,
                       activation::v1::ForwardResponse* out);
  grpc::Status Backward(const activation::v1::BackwardRequest& request,
                        activation::v1::BackwardResponse* out);
  grpc::Status BatchEvaluate(
      const activation::v1::BatchEvaluateRequest& request,
      activation::v1::BatchEvaluateResponse* out);
  grpc::Status GetServerInfo(activation::v1::ServerInfo* out);
  // grpc.health.v1 Check of `service` ("" = the whole server).
  grpc::Status CheckHealth(const std::string& service,
                           grpc::health::v1::HealthCheckResponse* out);

  // Looks up one activation's description; NOT_FOUND when absent.
  grpc::Status Describe(const std::string& name,
                        activation::v1::ActivationInfo* out);

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

}  // namespace actd::client

#endif  // ACTD_CLIENT_LIB_CLIENT_H_
