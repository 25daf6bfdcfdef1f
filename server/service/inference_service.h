// inference.GRPCInferenceService: the Open Inference Protocol over gRPC,
// registered on actd's port beside ActivationService. Callback API; the
// handlers are thin: health and metadata from the registry, ModelInfer through
// oip_mapping.h on the shared compute path, admitted and reported like every
// other call (admission.h).
#ifndef ACTD_SERVER_SERVICE_INFERENCE_SERVICE_H_
#define ACTD_SERVER_SERVICE_INFERENCE_SERVICE_H_

#include <memory>

#include "inference/grpc_service.grpc.pb.h"
#include "server/service/evaluate.h"
#include "server/service/unary_routes.h"

namespace actd {

// The service, ready to register with a grpc::ServerBuilder. ServerLive,
// ServerReady and ModelReady stay open; ServerMetadata, ModelMetadata and
// ModelInfer need the bearer token when options.auth_token is set.
// ServerReady and ModelReady answer false once *options.ready is false.
// ModelInfer is served through `routes` (see NewActivationService) and
// computes on the thread gRPC runs its handler on, with the shared compute
// pool, as the native handlers do.
std::unique_ptr<inference::GRPCInferenceService::CallbackService>
NewInferenceService(ServiceOptions options, UnaryRoutes* routes);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_INFERENCE_SERVICE_H_
