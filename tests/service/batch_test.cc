// BatchEvaluate through the gRPC stub: results in request order with ids
// echoed, each good item computed as its own Forward/Backward would be, a bad
// item failing only itself with its own code and a message naming the item and
// the field, and a batch over --max_batch_items refused as a whole.
#include <memory>

#include "gtest/gtest.h"
#include "server/core/compute.h"
#include "tests/service/harness.h"
#include "tests/service/reference.h"

namespace actd::service_test {
namespace {

using grpc::StatusCode;

constexpr pb::DataType kF32 = pb::DATA_TYPE_FLOAT32;
constexpr pb::DataType kF64 = pb::DATA_TYPE_FLOAT64;

pb::EvaluateRequest ForwardItem(const std::string& id, const Case& c,
                                pb::DataType dtype, Encoding encoding) {
  pb::EvaluateRequest item;
  item.set_id(id);
  *item.mutable_forward() = ForwardOf(c, dtype, encoding);
  return item;
}

pb::EvaluateRequest BackwardItem(const std::string& id, const Case& c,
                                 pb::DataType dtype, Encoding encoding) {
  pb::EvaluateRequest item;
  item.set_id(id);
  *item.mutable_backward() = BackwardOf(c, dtype, encoding, true);
  return item;
}

// Runs on an inline server and on one whose items share a compute pool.
class Batch : public ::testing::TestWithParam<int> {
 protected:
  Batch() {
    ServiceOptions options;
    if (GetParam() > 1) {
      pool_ = std::make_unique<ComputeContext>(GetParam());
      options.compute = pool_.get();
      options.compute_threads = GetParam();
    }
    server_ = std::make_unique<InProcessServer>(options);
  }

  std::unique_ptr<ComputeContext> pool_;
  std::unique_ptr<InProcessServer> server_;
};

TEST_P(Batch, BadItemsFailOnlyThemselves) {
  pb::BatchEvaluateRequest request;
  *request.add_items() =
      ForwardItem("sig", FindCase("sigmoid"), kF32, Encoding::kRaw);
  *request.add_items() =
      BackwardItem("elu-grad", FindCase("elu_alpha"), kF64, Encoding::kTyped);
  {
    // Unknown activation: NOT_FOUND for this item only.
    pb::EvaluateRequest bad =
        ForwardItem("unknown", FindCase("relu"), kF32, Encoding::kRaw);
    bad.mutable_forward()->mutable_activation()->set_name("softmax");
    *request.add_items() = bad;
  }
  *request.add_items() =
      ForwardItem("dice", FindCase("dice_training"), kF64, Encoding::kRaw);
  {
    // Out-of-range parameter: INVALID_ARGUMENT for this item only.
    pb::EvaluateRequest bad =
        BackwardItem("bad-alpha", FindCase("elu"), kF32, Encoding::kRaw);
    (*bad.mutable_backward()->mutable_activation()->mutable_params())["alpha"] =
        Number(-1);
    *request.add_items() = bad;
  }
  *request.add_items() =
      BackwardItem("maxout", FindCase("maxout_affine"), kF32, Encoding::kTyped);
  {
    pb::EvaluateRequest empty;
    empty.set_id("no-op");
    *request.add_items() = empty;
  }
  *request.add_items() =
      ForwardItem("gelu", FindCase("gelu_tanh"), kF64, Encoding::kTyped);

  pb::BatchEvaluateResponse response;
  const grpc::Status status = server_->BatchEvaluate(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), request.items_size());
  for (int i = 0; i < request.items_size(); ++i) {
    EXPECT_EQ(response.results(i).id(), request.items(i).id()) << i;
  }

  auto expect_forward = [&](int i, const char* label, pb::DataType dtype,
                            Encoding encoding) {
    SCOPED_TRACE(label);
    const pb::EvaluateResponse& r = response.results(i);
    EXPECT_EQ(r.code(), 0) << r.message();
    EXPECT_TRUE(r.message().empty());
    ASSERT_TRUE(r.has_forward());
    const Case& c = FindCase(label);
    const Reference ref = ReferenceOf(c, dtype, false);
    ExpectTensor(r.forward().output(), dtype, encoding, c.out_shape, ref.y,
                 "output");
    EXPECT_EQ(r.forward().extras_size(), static_cast<int>(ref.extras.size()));
  };
  auto expect_backward = [&](int i, const char* label, pb::DataType dtype,
                             Encoding encoding) {
    SCOPED_TRACE(label);
    const pb::EvaluateResponse& r = response.results(i);
    EXPECT_EQ(r.code(), 0) << r.message();
    ASSERT_TRUE(r.has_backward());
    const Case& c = FindCase(label);
    const Reference ref = ReferenceOf(c, dtype, true);
    ExpectTensor(r.backward().grad_input(), dtype, encoding, c.shape, ref.dx,
                 "grad_input");
    ASSERT_EQ(r.backward().grad_params_size(),
              static_cast<int>(ref.grads.size()));
    for (const auto& [name, expected] : ref.grads) {
      ASSERT_EQ(r.backward().grad_params().count(name), 1u) << name;
      ExpectTensor(r.backward().grad_params().at(name), dtype, encoding,
                   expected.shape, expected.values, name);
    }
  };
  auto expect_failure = [&](int i, int code,
                            std::initializer_list<std::string> parts) {
    const pb::EvaluateResponse& r = response.results(i);
    SCOPED_TRACE(r.id());
    EXPECT_EQ(r.code(), code) << r.message();
    EXPECT_EQ(r.result_case(), pb::EvaluateResponse::RESULT_NOT_SET);
    for (const std::string& part : parts) {
      EXPECT_NE(r.message().find(part), std::string::npos)
          << "message \"" << r.message() << "\" lacks \"" << part << "\"";
    }
  };

  expect_forward(0, "sigmoid", kF32, Encoding::kRaw);
  expect_backward(1, "elu_alpha", kF64, Encoding::kTyped);
  expect_failure(2, 5, {"items[2]", "activation.name", "\"softmax\""});
  expect_forward(3, "dice_training", kF64, Encoding::kRaw);
  expect_failure(4, 3, {"items[4]", "activation.params[\"alpha\"]", "-1"});
  expect_backward(5, "maxout_affine", kF32, Encoding::kTyped);
  expect_failure(6, 3, {"items[6]", "no operation"});
  expect_forward(7, "gelu_tanh", kF64, Encoding::kTyped);
}

// A batch item answers exactly what the same Forward call answers.
TEST_P(Batch, ItemsMatchSingleCalls) {
  pb::BatchEvaluateRequest request;
  for (const Case& c : AllCases()) {
    *request.add_items() = ForwardItem(c.label, c, kF64, Encoding::kRaw);
  }
  pb::BatchEvaluateResponse response;
  const grpc::Status status = server_->BatchEvaluate(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), request.items_size());
  for (int i = 0; i < request.items_size(); ++i) {
    SCOPED_TRACE(request.items(i).id());
    pb::ForwardResponse single;
    const grpc::Status s =
        server_->Forward(request.items(i).forward(), &single);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.results(i).code(), 0);
    EXPECT_EQ(response.results(i).forward().output().SerializeAsString(),
              single.output().SerializeAsString());
  }
}

TEST_P(Batch, EmptyBatchHasNoResults) {
  pb::BatchEvaluateResponse response;
  const grpc::Status status = server_->BatchEvaluate({}, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.results_size(), 0);
}

INSTANTIATE_TEST_SUITE_P(Service, Batch, ::testing::Values(1, 3),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param > 1 ? "Pool" : "Inline";
                         });

TEST(BatchLimit, OverMaxBatchItemsIsResourceExhausted) {
  ServiceOptions options;
  options.max_batch_items = 3;
  InProcessServer server(options);
  pb::BatchEvaluateRequest request;
  for (int i = 0; i < 3; ++i) {
    *request.add_items() = ForwardItem("item" + std::to_string(i),
                                       FindCase("relu"), kF32, Encoding::kRaw);
  }
  pb::BatchEvaluateResponse response;
  grpc::Status status = server.BatchEvaluate(request, &response);
  ASSERT_TRUE(status.ok()) << "at the limit: " << status.error_message();
  EXPECT_EQ(response.results_size(), 3);

  *request.add_items() =
      ForwardItem("item3", FindCase("relu"), kF32, Encoding::kRaw);
  response.Clear();
  status = server.BatchEvaluate(request, &response);
  ExpectError(status, StatusCode::RESOURCE_EXHAUSTED,
              {"items", "4", "3", "--max_batch_items"});
  EXPECT_EQ(response.results_size(), 0);
}

// An item over --max_elements fails alone, with RESOURCE_EXHAUSTED's code.
TEST(BatchLimit, ItemOverMaxElementsFailsAlone) {
  ServiceOptions options;
  options.max_elements = 8;
  InProcessServer server(options);
  pb::BatchEvaluateRequest request;
  *request.add_items() =
      ForwardItem("small", FindCase("relu"), kF32, Encoding::kRaw);
  pb::EvaluateRequest big =
      ForwardItem("big", FindCase("relu"), kF32, Encoding::kRaw);
  *big.mutable_forward()->mutable_input() =
      MakeTensor(Values(9, 1.0), {9}, kF32, Encoding::kRaw);
  *request.add_items() = big;
  pb::BatchEvaluateResponse response;
  const grpc::Status status = server.BatchEvaluate(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).code(), 0);
  EXPECT_EQ(response.results(1).code(), 8);  // RESOURCE_EXHAUSTED
  EXPECT_NE(response.results(1).message().find("--max_elements"),
            std::string::npos)
      << response.results(1).message();
}

}  // namespace
}  // namespace actd::service_test
