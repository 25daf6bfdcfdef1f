// Handlers: check the call is still wanted, evaluate, convert the status.
// Nothing else.
#include "server/service/activation_service.h"

#include "spdlog/spdlog.h"

namespace actd {
namespace {

namespace pb = activation::v1;

class ActivationServiceImpl final : public pb::ActivationService::Service {
 public:
  explicit ActivationServiceImpl(ServiceOptions options)
      : options_(std::move(options)) {}

  grpc::Status ListActivations(grpc::ServerContext*,
                               const pb::ListActivationsRequest*,
                               pb::ListActivationsResponse* response) override {
    DescribeActivations(response);
    return grpc::Status::OK;
  }

  grpc::Status Forward(grpc::ServerContext* context,
                       const pb::ForwardRequest* request,
                       pb::ForwardResponse* response) override {
    return Run(context, "Forward", request->activation().name(),
               [&] { return EvaluateForward(*request, response, options_); });
  }

  grpc::Status Backward(grpc::ServerContext* context,
                        const pb::BackwardRequest* request,
                        pb::BackwardResponse* response) override {
    return Run(context, "Backward", request->activation().name(),
               [&] { return EvaluateBackward(*request, response, options_); });
  }

  grpc::Status BatchEvaluate(grpc::ServerContext* context,
                             const pb::BatchEvaluateRequest* request,
                             pb::BatchEvaluateResponse* response) override {
    return Run(context, "BatchEvaluate", "",
               [&] { return EvaluateBatch(*request, response, options_); });
  }

  grpc::Status GetServerInfo(grpc::ServerContext*,
                             const pb::GetServerInfoRequest*,
                             pb::ServerInfo* info) override {
    info->set_version(options_.version);
    info->set_isa(options_.isa);
    info->set_compute_threads(options_.compute_threads);
    info->set_max_message_bytes(options_.max_message_bytes);
    info->set_max_elements(options_.max_elements);
    info->set_max_batch_items(options_.max_batch_items);
    info->set_max_inflight(options_.max_inflight);
    return grpc::Status::OK;
  }

 private:
  template <typename Work>
  grpc::Status Run(grpc::ServerContext* context, const char* method,
                   const std::string& activation, Work&& work) {
    if (context->IsCancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED,
                          "the client cancelled the call");
    }
    const absl::Status status = work();
    if (!status.ok()) {
      spdlog::debug("{} {} from {}: {}", method, activation, context->peer(),
                    status.ToString());
    }
    return ToGrpcStatus(status);
  }

  const ServiceOptions options_;
};

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

std::unique_ptr<pb::ActivationService::Service> NewActivationService(
    ServiceOptions options) {
  return std::make_unique<ActivationServiceImpl>(std::move(options));
}

}  // namespace actd
