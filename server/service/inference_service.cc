// The Open Inference Protocol's gRPC handlers.
#include "server/service/inference_service.h"

#include <chrono>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "server/service/admission.h"
#include "server/service/oip_mapping.h"
#include "server/service/unary_routes.h"
#include "server/service/wire.h"

namespace actd {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

// ModelInfer's index in inference.GRPCInferenceService, in .proto order.
constexpr int kModelInferIndex = 5;

ServerUnaryReactor* Finish(CallbackServerContext* context,
                           const absl::Status& status) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// What a ModelInfer call builds while it runs, wherever it runs.
struct InferCall {
  inference::ModelInferResponse response;
  CallTiming timing;
};

class InferenceServiceImpl final
    : public inference::GRPCInferenceService::CallbackService {
 public:
  InferenceServiceImpl(ServiceOptions options, UnaryRoutes* routes)
      : options_(std::move(options)) {
    // ModelInfer goes through `routes` (unary_routes.h) on wire.h's types
    // instead of the generated handler (gRPC's protobuf parse and serialize).
    MarkMethodGeneric(kModelInferIndex);
    routes->Add<inference::ModelInferRequest>(
        absl::StrCat("/", inference::GRPCInferenceService::service_full_name(),
                     "/ModelInfer"),
        [this](auto&&... call) { Infer(call...); });
  }

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

  // ModelInfer, as the native service's methods: its request and response
  // travel through wire.h, so tensors are parsed from the transport's slices
  // (compressed ones inflated there) and handed back to it without a copy; a
  // forward writes y over x, and a large call computes on the pool.
  void Infer(grpc::ServerContextBase* context,
             const wire::Received<inference::ModelInferRequest>& in,
             wire::Reply* reply, FinishCall finish) {
    CallEdge edge{
        "oip-grpc",          "ModelInfer",
        context->peer(),     Authorization(context),
        context->deadline(), [context] { return context->IsCancelled(); }};
    // `in` and `reply` live until the call is finished.
    auto call = std::make_shared<InferCall>();
    CallFacts facts = oip::FactsOf(in.message);
    facts.invalid = in.status;
    RunAdmittedAsync(
        options_, std::move(edge), std::move(facts),
        static_cast<int64_t>(in.wire_bytes),
        [this, &in, call](const ComputeContext& compute) {
          return oip::EvaluateModelInferInPlace(
              &in.message, &call->response, options_, compute, &call->timing);
        },
        [call] { return static_cast<int64_t>(call->response.ByteSizeLong()); },
        [context, reply, call,
         finish = std::move(finish)](absl::Status status) {
          if (status.ok()) {
            const auto start = std::chrono::steady_clock::now();
            status =
                wire::SerializeMovingTensors(&call->response, &reply->buffer);
            call->timing.encode_ns +=
                std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
          }
          AddTimingTrailers(context, call->timing);
          finish(status);
        });
  }

 private:
  const ServiceOptions options_;
};

}  // namespace

std::unique_ptr<inference::GRPCInferenceService::CallbackService>
NewInferenceService(ServiceOptions options, UnaryRoutes* routes) {
  return std::make_unique<InferenceServiceImpl>(std::move(options), routes);
}

}  // namespace actd
