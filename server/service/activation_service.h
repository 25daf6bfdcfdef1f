// The gRPC ActivationService on gRPC's callback API: thin handlers over
// evaluate.h, the messages parsed and serialized by wire.h, plus the absl ->
// gRPC status conversion at the edge.
#ifndef ACTD_SERVER_SERVICE_ACTIVATION_SERVICE_H_
#define ACTD_SERVER_SERVICE_ACTIVATION_SERVICE_H_

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/service_type.h"
#include "server/service/evaluate.h"
#include "server/service/unary_routes.h"

namespace actd {

// The service, ready to register with a grpc::ServerBuilder (it keeps the
// name and descriptor of activation.v1.ActivationService, so reflection lists
// it). Forward, Backward and BatchEvaluate are served through `routes`, which
// the same server must register as its generic service and which must outlive
// the server. Thread-safe. A server that registers it must also apply
// ConfigureServer: requests are inflated by the service itself.
std::unique_ptr<grpc::Service> NewActivationService(ServiceOptions options,
                                                    UnaryRoutes* routes);

// What the service needs of the process it runs in: the allocator set up for
// its message buffers, and their free pages given back when idle
// (wire::TuneAllocator); Abseil's mutex deadlock detection off. Call first
// thing in main, before any thread starts.
void PrepareProcess();

// What the service needs of the server it runs in: gRPC's per-message
// decompression off (GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION), so that a
// compressed request is inflated by the service and never beyond
// options.max_message_bytes. Every service of that server then receives
// compressed messages as they came.
void ConfigureServer(const ServiceOptions& options,
                     grpc::ServerBuilder* builder);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_ACTIVATION_SERVICE_H_
