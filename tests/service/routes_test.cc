// The hot methods' generic path (unary_routes.h) as a client that does not
// follow the generated stub sees it: an unknown method, a call that sends no
// message, bytes that are not the request type, each refused with its exact
// code and a message naming what was wrong.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/service/harness.h"

namespace actd::service_test {
namespace {

constexpr char kService[] = "/activation.v1.ActivationService/";

// Waits for the completion of `tag` on `cq`; false when it failed.
bool Await(grpc::CompletionQueue* cq, void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!cq->Next(&got, &ok)) return false;
  EXPECT_EQ(got, tag);
  return ok;
}

// One call to `method` that sends `requests` messages (0 or 1) of `bytes`,
// half-closes and returns the status; the response, if any, in *response,
// and the trailing metadata in *trailers when given.
grpc::Status Call(int port, const std::string& method, int requests,
                  const std::string& bytes, grpc::ByteBuffer* response,
                  std::map<std::string, std::string>* trailers = nullptr) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      stub.PrepareCall(&context, method, &cq);
  int tags[5];
  call->StartCall(&tags[0]);
  Await(&cq, &tags[0]);
  if (requests > 0) {
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1);
    call->Write(request, &tags[1]);
    Await(&cq, &tags[1]);
  }
  call->WritesDone(&tags[2]);
  Await(&cq, &tags[2]);
  call->Read(response, &tags[3]);
  Await(&cq, &tags[3]);
  grpc::Status status;
  call->Finish(&status, &tags[4]);
  Await(&cq, &tags[4]);
  if (trailers != nullptr) {
    for (const auto& [key, value] : context.GetServerTrailingMetadata()) {
      (*trailers)[std::string(key.data(), key.size())] =
          std::string(value.data(), value.size());
    }
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

TEST(Routes, AnUnknownMethodIsUnimplementedAndNamed) {
  InProcessServer server;
  grpc::ByteBuffer response;
  const std::string method = std::string(kService) + "Sideways";
  grpc::Status status = Call(server.port(), method, 1, "", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(status.error_message().find(method), std::string::npos)
      << status.error_message();
}

TEST(Routes, ACallWithoutARequestMessageIsInvalid) {
  InProcessServer server;
  grpc::ByteBuffer response;
  std::map<std::string, std::string> trailers;
  grpc::Status status = Call(server.port(), std::string(kService) + "Forward",
                             0, "", &response, &trailers);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "request: no message received");
  // Refused by the handler, like any invalid request: it sends the timing
  // trailers (and is counted in the metrics and the access log).
  EXPECT_EQ(trailers["actd-compute-us"], "0.000");
}

TEST(Routes, BytesThatAreNotTheRequestTypeAreInvalid) {
  InProcessServer server;
  grpc::ByteBuffer response;
  // Field 1 as a varint where BackwardRequest has a message, then garbage.
  grpc::Status status =
      Call(server.port(), std::string(kService) + "Backward", 1,
           std::string("\x08\x96\x01\xff\xff", 5), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "request: the bytes received are not a valid "
            "activation.v1.BackwardRequest");
}

TEST(Routes, AForwardFromAGenericClientIsAnswered) {
  InProcessServer server;
  pb::ForwardRequest request;
  request.mutable_activation()->set_name("relu");
  *request.mutable_input() =
      MakeTensor({-1, 0.5, 2}, {3}, pb::DATA_TYPE_FLOAT32, Encoding::kRaw);
  grpc::ByteBuffer bytes;
  grpc::Status status = Call(server.port(), std::string(kService) + "Forward",
                             1, request.SerializeAsString(), &bytes);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(bytes.Dump(&slices).ok());
  std::string serialized;
  for (const grpc::Slice& s : slices) {
    serialized.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  pb::ForwardResponse response;
  ASSERT_TRUE(response.ParseFromString(serialized));
  ExpectTensor(response.output(), pb::DATA_TYPE_FLOAT32, Encoding::kRaw, {3},
               {0, 0.5, 2}, "output");
}

}  // namespace
}  // namespace actd::service_test
