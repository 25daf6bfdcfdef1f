// Shared pieces of the service tests: an ActivationService in an in-process
// gRPC server on a free loopback port, reached through the generated stub over
// a real channel, and helpers to build request tensors and check response
// tensors against double-precision reference values.
#ifndef ACTD_TESTS_SERVICE_HARNESS_H_
#define ACTD_TESTS_SERVICE_HARNESS_H_

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "activation/v1/activation.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/service/activation_service.h"

namespace actd::service_test {

namespace pb = activation::v1;
using Shape = std::vector<int64_t>;
using Values = std::vector<double>;

// The server and one channel to it; shuts the server down on destruction.
class InProcessServer {
 public:
  // `max_message_bytes` > 0 raises the server's and the channel's send and
  // receive limits to it; 0 keeps gRPC's defaults.
  explicit InProcessServer(ServiceOptions options = {},
                           int max_message_bytes = 0);
  ~InProcessServer();
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;

  // A stub over the shared channel; stubs are thread-safe.
  pb::ActivationService::Stub& stub() { return *stub_; }
  int port() const { return port_; }

  // The RPCs, each with a 60 s deadline so a broken server fails a test
  // instead of hanging it.
  grpc::Status Forward(const pb::ForwardRequest& request,
                       pb::ForwardResponse* response);
  grpc::Status Backward(const pb::BackwardRequest& request,
                        pb::BackwardResponse* response);
  grpc::Status BatchEvaluate(const pb::BatchEvaluateRequest& request,
                             pb::BatchEvaluateResponse* response);
  grpc::Status ListActivations(pb::ListActivationsResponse* response);
  grpc::Status GetServerInfo(pb::ServerInfo* response);

 private:
  UnaryRoutes routes_;  // before service_ and server_: outlives both
  std::unique_ptr<grpc::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::ActivationService::Stub> stub_;
  int port_ = 0;
};

// A client context with the harness's 60 s deadline.
std::unique_ptr<grpc::ClientContext> NewContext();

// How the request carries its values: packed bytes or typed repeated fields.
enum class Encoding { kRaw, kTyped };
std::string EncodingName(Encoding e);
// The names of the registry's rows, in its order: what the tests that cover
// "every activation" enumerate.
std::vector<std::string> RegistryNames();
std::string DTypeName(pb::DataType d);

// A tensor holding `values` (rounded to the dtype). Typed tensors set dtype
// too.
pb::Tensor MakeTensor(const Values& values, const Shape& shape,
                      pb::DataType dtype, Encoding encoding);
// `values` as the dtype holds them (float32 rounds).
Values Rounded(const Values& values, pb::DataType dtype);

// Expects `got` to be in `dtype` and `encoding` (only that one data field
// set), of `shape`, with values within the dtype's tolerance of `expected`:
// float32 1e-5 relative + 1e-6 absolute, float64 1e-12 relative + 1e-14
// absolute. `what` names the tensor in failure messages.
void ExpectTensor(const pb::Tensor& got, pb::DataType dtype, Encoding encoding,
                  const Shape& shape, const Values& expected,
                  const std::string& what);
// The values of a tensor in any encoding (for comparisons between responses).
Values ValuesOf(const pb::Tensor& t);

// Parameter constructors.
pb::Param Number(double v);
pb::Param Text(const std::string& v);
pb::Param Flag(bool v);

// Expects `status` to have exactly `code` and a message containing every one
// of `parts` (the field and the offending value).
void ExpectError(const grpc::Status& status, grpc::StatusCode code,
                 std::initializer_list<std::string> parts);

}  // namespace actd::service_test

#endif  // ACTD_TESTS_SERVICE_HARNESS_H_
