// UnaryRoutes' dispatch (unary_routes.h).
#include "server/service/unary_routes.h"

namespace actd {
namespace {

// A call to a path no service serves: refused at once, as gRPC refuses an
// unknown method when no generic service is registered.
class Unimplemented final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Unimplemented(const std::string& path) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "method: " + path + " is not served here"));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* UnaryRoutes::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  auto route = routes_.find(context->method());
  if (route == routes_.end()) return new Unimplemented(context->method());
  return route->second(context);
}

}  // namespace actd
