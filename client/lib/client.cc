// Channel construction and the per-call context (deadline, bearer token) that
// every RPC wrapper shares.
#include "client/lib/client.h"

#include <chrono>

namespace actd::client {

namespace pb = activation::v1;

const char* DefaultServiceConfig() {
  return
#include "client/lib/service_config.inc"
      ;
}

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(DefaultServiceConfig());
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
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
  return grpc::CreateCustomChannel(options.target, credentials, args);
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

grpc::Status ActdClient::ListActivations(pb::ListActivationsResponse* out) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->ListActivations(&context, pb::ListActivationsRequest(), out);
}

grpc::Status ActdClient::Forward(const pb::ForwardRequest& request,
                                 pb::ForwardResponse* out) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->Forward(&context, request, out);
}

grpc::Status ActdClient::Backward(const pb::BackwardRequest& request,
                                  pb::BackwardResponse* out) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->Backward(&context, request, out);
}

grpc::Status ActdClient::BatchEvaluate(const pb::BatchEvaluateRequest& request,
                                       pb::BatchEvaluateResponse* out) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->BatchEvaluate(&context, request, out);
}

grpc::Status ActdClient::GetServerInfo(pb::ServerInfo* out) {
  grpc::ClientContext context;
  PrepareContext(&context);
  return stub_->GetServerInfo(&context, pb::GetServerInfoRequest(), out);
}

grpc::Status ActdClient::CheckHealth(
    const std::string& service, grpc::health::v1::HealthCheckResponse* out) {
  grpc::ClientContext context;
  PrepareContext(&context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  return health_->Check(&context, request, out);
}

grpc::Status ActdClient::Describe(const std::string& name,
                                  pb::ActivationInfo* out) {
  pb::ListActivationsResponse list;
  if (grpc::Status s = ListActivations(&list); !s.ok()) return s;
  for (const pb::ActivationInfo& info : list.activations()) {
    if (info.name() == name) {
      *out = info;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      "unknown activation '" + name + "'");
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
