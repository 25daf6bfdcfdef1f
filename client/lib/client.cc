// Channel construction and the per-call context (deadline, bearer token) that
// every RPC wrapper shares.
#include "client/lib/client.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace actd::client {

namespace pb = activation::v1;

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  if (!options.service_config.empty()) {
    args.SetServiceConfigJSON(options.service_config);
  }
  if (!options.lb_policy.empty()) {
    args.SetLoadBalancingPolicyName(options.lb_policy);
  }
  if (options.own_subchannels)
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls || !options.tls_ca.empty() || !options.tls_cert.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_ca;
    ssl.pem_cert_chain = options.tls_cert;
    ssl.pem_private_key = options.tls_key;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(WithDefaultPort(options.target), credentials,
                                   args);
}

ActdClient::ActdClient(const ConnectionOptions& options)
    : ActdClient(options, MakeChannel(options)) {}

ActdClient::ActdClient(const ConnectionOptions& options,
                       std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      stub_(pb::ActivationService::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void ActdClient::PrepareContext(grpc::ClientContext* context) const {
  if (options_.timeout_seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(
                              options_.timeout_seconds * 1e6)));
  }
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options_.token);
  }
}

namespace {

// One unary call with a prepared context, its result as StatusOr.
template <typename Response, typename Call>
absl::StatusOr<Response> Unary(const ActdClient& client, Call call) {
  grpc::ClientContext context;
  client.PrepareContext(&context);
  Response response;
  grpc::Status status = call(&context, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

}  // namespace

absl::StatusOr<pb::ListActivationsResponse> ActdClient::ListActivations() {
  return Unary<pb::ListActivationsResponse>(
      *this, [&](grpc::ClientContext* c, pb::ListActivationsResponse* out) {
        return stub_->ListActivations(c, pb::ListActivationsRequest(), out);
      });
}

absl::StatusOr<pb::ForwardResponse> ActdClient::Forward(
    const pb::ForwardRequest& request) {
  return Unary<pb::ForwardResponse>(
      *this, [&](grpc::ClientContext* c, pb::ForwardResponse* out) {
        return stub_->Forward(c, request, out);
      });
}

absl::StatusOr<pb::BackwardResponse> ActdClient::Backward(
    const pb::BackwardRequest& request) {
  return Unary<pb::BackwardResponse>(
      *this, [&](grpc::ClientContext* c, pb::BackwardResponse* out) {
        return stub_->Backward(c, request, out);
      });
}

absl::StatusOr<pb::BatchEvaluateResponse> ActdClient::BatchEvaluate(
    const pb::BatchEvaluateRequest& request) {
  return Unary<pb::BatchEvaluateResponse>(
      *this, [&](grpc::ClientContext* c, pb::BatchEvaluateResponse* out) {
        return stub_->BatchEvaluate(c, request, out);
      });
}

absl::StatusOr<pb::ServerInfo> ActdClient::GetServerInfo() {
  return Unary<pb::ServerInfo>(
      *this, [&](grpc::ClientContext* c, pb::ServerInfo* out) {
        return stub_->GetServerInfo(c, pb::GetServerInfoRequest(), out);
      });
}

absl::StatusOr<grpc::health::v1::HealthCheckResponse> ActdClient::CheckHealth(
    const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  return Unary<grpc::health::v1::HealthCheckResponse>(
      *this,
      [&](grpc::ClientContext* c, grpc::health::v1::HealthCheckResponse* out) {
        return health_->Check(c, request, out);
      });
}

absl::StatusOr<pb::ActivationInfo> ActdClient::Describe(
    const std::string& name) {
  absl::StatusOr<pb::ListActivationsResponse> list = ListActivations();
  if (!list.ok()) return list.status();
  std::vector<std::string> names;
  for (const pb::ActivationInfo& info : list->activations()) {
    if (info.name() == name) return info;
    names.push_back(info.name());
  }
  const std::string guess = ClosestName(name, names);
  return absl::NotFoundError(absl::StrCat(
      "unknown activation ", name,
      guess.empty() ? "" : absl::StrCat("; did you mean ", guess, "?"),
      " (known: ", absl::StrJoin(names, ", "), ")"));
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string WithDefaultPort(const std::string& target) {
  absl::string_view host = target;
  // A URI scheme other than dns: names its addresses its own way.
  if (absl::StartsWith(host, "unix:") || absl::StartsWith(host, "ipv4:") ||
      absl::StartsWith(host, "ipv6:") || absl::StartsWith(host, "vsock:")) {
    return target;
  }
  if (absl::ConsumePrefix(&host, "dns:")) {
    if (absl::ConsumePrefix(&host, "//")) {
      host = host.substr(std::min(host.find('/'), host.size()));
      absl::ConsumePrefix(&host, "/");
    }
  }
  if (host.empty()) return target;
  if (host.front() == '[') {  // [v6] or [v6]:port
    const size_t close = host.find(']');
    if (close == absl::string_view::npos || close + 1 < host.size()) {
      return target;
    }
    return absl::StrCat(target, ":50051");
  }
  const size_t colons = std::count(host.begin(), host.end(), ':');
  if (colons == 0) return absl::StrCat(target, ":50051");
  if (colons > 1) {  // a bare IPv6 address, after any dns: prefix
    const absl::string_view prefix(target.data(), target.size() - host.size());
    return absl::StrCat(prefix, "[", host, "]:50051");
  }
  return target;
}

std::string ClosestName(const std::string& word,
                        const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::min<size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    // Levenshtein distance with adjacent transpositions (optimal string
    // alignment), one row at a time.
    std::vector<size_t> before(c.size() + 1), row(c.size() + 1),
        prev(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= word.size(); ++i) {
      before.swap(prev);
      prev.swap(row);
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        const size_t cost = word[i - 1] == c[j - 1] ? 0 : 1;
        row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost});
        if (i > 1 && j > 1 && word[i - 1] == c[j - 2] &&
            word[i - 2] == c[j - 1]) {
          row[j] = std::min(row[j], before[j - 2] + 1);
        }
      }
    }
    if (row[c.size()] < best_distance) {
      best_distance = row[c.size()];
      best = c;
    }
  }
  return best;
}

std::string StatusCodeName(int code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) {
    return kNames[code];
  }
  return "CODE_" + std::to_string(code);
}

}  // namespace actd::client
