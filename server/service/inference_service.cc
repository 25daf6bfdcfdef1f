// The Open Inference Protocol's gRPC handlers.
#include "server/service/inference_service.h"

#include <optional>

#include "server/service/activation_service.h"
#include "server/service/admission.h"
#include "server/service/oip_mapping.h"

namespace actd {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

ServerUnaryReactor* Finish(CallbackServerContext* context,
                           const absl::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

std::optional<absl::string_view> Authorization(
    const CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  return absl::string_view(it->second.data(), it->second.size());
}

class InferenceServiceImpl final
    : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit InferenceServiceImpl(ServiceOptions options)
      : options_(std::move(options)) {}

  ServerUnaryReactor* ServerLive(CallbackServerContext* context,
                                 const inference::ServerLiveRequest*,
                                 inference::ServerLiveResponse* r) override {
    r->set_live(true);
    return Finish(context, absl::OkStatus());
  }

  ServerUnaryReactor* ServerReady(CallbackServerContext* context,
                                  const inference::ServerReadyRequest*,
                                  inference::ServerReadyResponse* r) override {
    r->set_ready(options_.ready->load());
    return Finish(context, absl::OkStatus());
  }

  ServerUnaryReactor* ModelReady(CallbackServerContext* context,
                                 const inference::ModelReadyRequest* request,
                                 inference::ModelReadyResponse* r) override {
    absl::StatusOr<const Activation*> model =
        oip::FindModel(request->name(), request->version());
    if (model.ok()) r->set_ready(options_.ready->load());
    return Finish(context, model.status());
  }

  ServerUnaryReactor* ServerMetadata(
      CallbackServerContext* context, const inference::ServerMetadataRequest*,
      inference::ServerMetadataResponse* r) override {
    absl::Status s =
        CheckBearerToken(options_.auth_token, Authorization(context));
    if (s.ok()) {
      r->set_name("actd");
      r->set_version(options_.version);
    }
    return Finish(context, s);
  }

  ServerUnaryReactor* ModelMetadata(
      CallbackServerContext* context,
      const inference::ModelMetadataRequest* request,
      inference::ModelMetadataResponse* r) override {
    absl::Status s =
        CheckBearerToken(options_.auth_token, Authorization(context));
    absl::StatusOr<const Activation*> model =
        oip::FindModel(request->name(), request->version());
    if (s.ok()) s = model.status();
    if (s.ok()) oip::DescribeModel(**model, r);
    return Finish(context, s);
  }

  ServerUnaryReactor* ModelInfer(CallbackServerContext* context,
                                 const inference::ModelInferRequest* request,
                                 inference::ModelInferResponse* r) override {
    CallEdge edge{
        "oip-grpc",          "ModelInfer",
        context->peer(),     Authorization(context),
        context->deadline(), [context] { return context->IsCancelled(); }};
    CallTiming timing;
    absl::Status status = RunAdmitted(
        options_, edge, oip::FactsOf(*request),
        static_cast<int64_t>(request->ByteSizeLong()),
        [&](const ComputeContext& compute) {
          return oip::EvaluateModelInfer(*request, r, options_, compute,
                                         &timing);
        },
        [r] { return static_cast<int64_t>(r->ByteSizeLong()); });
    if (!status.ok()) r->Clear();
    context->AddTrailingMetadata("actd-decode-us", Micros(timing.decode_ns));
    context->AddTrailingMetadata("actd-compute-us", Micros(timing.compute_ns));
    context->AddTrailingMetadata("actd-encode-us", Micros(timing.encode_ns));
    return Finish(context, status);
  }

 private:
  const ServiceOptions options_;
};

}  // namespace

std::unique_ptr<inference::GRPCInferenceService::CallbackService>
NewInferenceService(ServiceOptions options) {
  return std::make_unique<InferenceServiceImpl>(std::move(options));
}

}  // namespace actd
