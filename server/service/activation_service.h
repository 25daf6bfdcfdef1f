// The gRPC ActivationService: thin handlers over evaluate.h, plus the absl ->
// gRPC status conversion at the edge.
#ifndef ACTD_SERVER_SERVICE_ACTIVATION_SERVICE_H_
#define ACTD_SERVER_SERVICE_ACTIVATION_SERVICE_H_

#include <memory>

#include "absl/status/status.h"
#include "activation/v1/activation.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/service/evaluate.h"

namespace actd {

// The same code and message, as gRPC spells them.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The service, ready to register with a grpc::ServerBuilder. Thread-safe:
// handlers run concurrently on the server's threads.
std::unique_ptr<activation::v1::ActivationService::Service>
NewActivationService(ServiceOptions options);

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_ACTIVATION_SERVICE_H_
