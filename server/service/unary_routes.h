// The hot unary methods (Forward, Backward, BatchEvaluate, ModelInfer) served
// through gRPC's generic callback API instead of registered unary handlers.
//
// Why: with gRPC 1.51 a registered callback unary method served 0.75-0.88 of
// the calls per second a generic callback service serves on the same
// transport, the handler doing nothing but echo its request (bench/rpc,
// docs/PERFORMANCE.md). A service keeps its name and descriptor (so reflection
// lists it, and its cheap methods stay registered); it marks its hot methods
// generic (grpc::Service::MarkMethodGeneric) and adds them here, where one
// reactor per call reads the single request, parses it through wire.h, and
// hands it to the route's handler.
#ifndef ACTD_SERVER_SERVICE_UNARY_ROUTES_H_
#define ACTD_SERVER_SERVICE_UNARY_ROUTES_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "server/service/admission.h"
#include "server/service/wire.h"

namespace actd {

// Completes a call: its reply (when `status` is OK) and the status go out.
// Called exactly once, from any thread.
using FinishCall = std::function<void(const absl::Status& status)>;

// A unary method's handler: the request as parsed (in.status says whether it
// could be), where the reply goes, and how to finish. `in` and `reply` live
// until the call is finished.
template <class Request>
using UnaryHandler = std::function<void(grpc::ServerContextBase* context,
                                        const wire::Received<Request>& in,
                                        wire::Reply* reply, FinishCall finish)>;

// Method paths ("/package.Service/Method") and their handlers. Register it
// with grpc::ServerBuilder::RegisterCallbackGenericService; every path that no
// registered service serves then arrives here, and one without a route is
// refused UNIMPLEMENTED. Routes are added before the server starts.
class UnaryRoutes final : public grpc::CallbackGenericService {
 public:
  template <class Request>
  void Add(const std::string& path, UnaryHandler<Request> handler);

 private:
  using NewReactor = std::function<grpc::ServerGenericBidiReactor*(
      grpc::GenericCallbackServerContext*)>;

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;

  absl::flat_hash_map<std::string, NewReactor> routes_;
};

namespace unary_routes_internal {

// One call of a route: reads the request, parses it, runs the handler, then
// writes the reply and finishes; deletes itself when gRPC is done with it.
template <class Request>
class Reactor final : public grpc::ServerGenericBidiReactor {
 public:
  Reactor(grpc::GenericCallbackServerContext* context,
          const UnaryHandler<Request>* handler)
      : context_(context), handler_(handler) {
    StartRead(&request_);
  }

  // A failed read (the client closed without a message, or the call ended)
  // leaves request_ empty: the parse says so, and the handler refuses and
  // records it like any other invalid request.
  void OnReadDone(bool /*ok*/) override {
    in_.wire_bytes = request_.Length();
    in_.status =
        wire::ParseReleasing(&request_, &in_.message, wire::MaxReceiveBytes());
    (*handler_)(context_, in_, &reply_, [this](const absl::Status& status) {
      if (status.ok()) {
        StartWriteAndFinish(&reply_.buffer, grpc::WriteOptions(),
                            grpc::Status::OK);
      } else {
        Finish(ToGrpcStatus(status));
      }
    });
  }

  void OnDone() override { delete this; }

 private:
  grpc::GenericCallbackServerContext* const context_;
  const UnaryHandler<Request>* const handler_;
  grpc::ByteBuffer request_;
  wire::Received<Request> in_;
  wire::Reply reply_;
};

}  // namespace unary_routes_internal

template <class Request>
void UnaryRoutes::Add(const std::string& path, UnaryHandler<Request> handler) {
  auto shared = std::make_shared<UnaryHandler<Request>>(std::move(handler));
  routes_[path] = [shared](grpc::GenericCallbackServerContext* context) {
    return new unary_routes_internal::Reactor<Request>(context, shared.get());
  };
}

}  // namespace actd

#endif  // ACTD_SERVER_SERVICE_UNARY_ROUTES_H_
