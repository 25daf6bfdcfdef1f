// The service under load: many client threads calling every RPC at once on a
// server with a shared compute pool, each answer checked against the
// reference; and one 16 Mi-element float32 tensor (64 MiB each way) through a
// server and channel configured for 256 MiB messages.
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/compute.h"
#include "tests/service/harness.h"
#include "tests/service/reference.h"

namespace actd::service_test {
namespace {

TEST(Concurrency, EightClientsFiftyMixedCallsEach) {
  ComputeContext pool(2);
  ServiceOptions options;
  options.compute = &pool;
  options.compute_threads = 2;
  InProcessServer server(options);

  const std::vector<Case>& cases = AllCases();
  constexpr int kThreads = 8;
  constexpr int kCalls = 50;
  std::atomic<int> done{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        const Case& c = cases[(t * kCalls + i) % cases.size()];
        const pb::DataType dtype =
            (i + t) % 2 ? pb::DATA_TYPE_FLOAT32 : pb::DATA_TYPE_FLOAT64;
        const Encoding encoding =
            (i / 2 + t) % 2 ? Encoding::kRaw : Encoding::kTyped;
        SCOPED_TRACE(c.label + " " + DTypeName(dtype) + " " +
                     EncodingName(encoding) + " call " + std::to_string(i));
        switch (i % 5) {
          case 0: {
            pb::ForwardResponse response;
            const grpc::Status status =
                server.Forward(ForwardOf(c, dtype, encoding), &response);
            ASSERT_TRUE(status.ok()) << status.error_message();
            ExpectTensor(response.output(), dtype, encoding, c.out_shape,
                         ReferenceOf(c, dtype, false).y, "output");
            break;
          }
          case 1: {
            pb::BackwardResponse response;
            const grpc::Status status = server.Backward(
                BackwardOf(c, dtype, encoding, true), &response);
            ASSERT_TRUE(status.ok()) << status.error_message();
            const Reference ref = ReferenceOf(c, dtype, true);
            ExpectTensor(response.grad_input(), dtype, encoding, c.shape,
                         ref.dx, "grad_input");
            EXPECT_EQ(response.grad_params_size(),
                      static_cast<int>(ref.grads.size()));
            break;
          }
          case 2: {
            pb::BatchEvaluateRequest request;
            pb::EvaluateRequest* a = request.add_items();
            a->set_id("f");
            *a->mutable_forward() = ForwardOf(c, dtype, encoding);
            pb::EvaluateRequest* b = request.add_items();
            b->set_id("bad");
            *b->mutable_forward() = ForwardOf(c, dtype, encoding);
            b->mutable_forward()->mutable_activation()->set_name("nope");
            pb::EvaluateRequest* d = request.add_items();
            d->set_id("b");
            *d->mutable_backward() = BackwardOf(c, dtype, encoding, false);
            pb::BatchEvaluateResponse response;
            const grpc::Status status =
                server.BatchEvaluate(request, &response);
            ASSERT_TRUE(status.ok()) << status.error_message();
            ASSERT_EQ(response.results_size(), 3);
            EXPECT_EQ(response.results(0).id(), "f");
            EXPECT_EQ(response.results(1).id(), "bad");
            EXPECT_EQ(response.results(2).id(), "b");
            EXPECT_EQ(response.results(1).code(), 5);
            ExpectTensor(response.results(0).forward().output(), dtype,
                         encoding, c.out_shape, ReferenceOf(c, dtype, false).y,
                         "batch output");
            ExpectTensor(response.results(2).backward().grad_input(), dtype,
                         encoding, c.shape, ReferenceOf(c, dtype, false).dx,
                         "batch grad_input");
            break;
          }
          case 3: {
            pb::ListActivationsResponse response;
            const grpc::Status status = server.ListActivations(&response);
            ASSERT_TRUE(status.ok()) << status.error_message();
            const std::vector<std::string> names = RegistryNames();
            ASSERT_EQ(response.activations_size(),
                      static_cast<int>(names.size()));
            EXPECT_EQ(response.activations(0).name(), names.front());
            EXPECT_EQ(response.activations(names.size() - 1).name(),
                      "identity");
            break;
          }
          case 4: {
            pb::ServerInfo info;
            const grpc::Status status = server.GetServerInfo(&info);
            ASSERT_TRUE(status.ok()) << status.error_message();
            EXPECT_EQ(info.compute_threads(), 2);
            break;
          }
        }
        ++done;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  EXPECT_EQ(done.load(), kThreads * kCalls);
}

TEST(LargeMessage, SixteenMiElementFloat32RawForward) {
  constexpr int kMaxMessage = 256 << 20;
  constexpr int64_t kN = int64_t{16} << 20;
  ServiceOptions options;
  options.max_message_bytes = kMaxMessage;
  InProcessServer server(options, kMaxMessage);

  // x_i = (i mod 2001) - 1000, so relu keeps a half and zeroes the rest.
  pb::ForwardRequest request;
  request.mutable_activation()->set_name("relu");
  pb::Tensor* input = request.mutable_input();
  input->set_dtype(pb::DATA_TYPE_FLOAT32);
  input->add_shape(kN / 1024);
  input->add_shape(1024);
  std::string* raw = input->mutable_raw_data();
  raw->resize(kN * sizeof(float));
  for (int64_t i = 0; i < kN; ++i) {
    const float x = static_cast<float>(i % 2001 - 1000);
    std::memcpy(raw->data() + i * sizeof(float), &x, sizeof(float));
  }

  pb::ForwardResponse response;
  const grpc::Status status = server.Forward(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const pb::Tensor& y = response.output();
  EXPECT_EQ(y.dtype(), pb::DATA_TYPE_FLOAT32);
  ASSERT_EQ(y.shape_size(), 2);
  EXPECT_EQ(y.shape(0), kN / 1024);
  EXPECT_EQ(y.shape(1), 1024);
  EXPECT_EQ(y.float_data_size(), 0);
  ASSERT_EQ(static_cast<int64_t>(y.raw_data().size()),
            kN * static_cast<int64_t>(sizeof(float)));
  int64_t wrong = 0, first_wrong = -1;
  for (int64_t i = 0; i < kN; ++i) {
    float got;
    std::memcpy(&got, y.raw_data().data() + i * sizeof(float), sizeof(float));
    const float x = static_cast<float>(i % 2001 - 1000);
    if (got != (x > 0 ? x : 0.0f)) {
      if (first_wrong < 0) first_wrong = i;
      ++wrong;
    }
  }
  EXPECT_EQ(wrong, 0) << "first wrong element at " << first_wrong;
}

}  // namespace
}  // namespace actd::service_test
