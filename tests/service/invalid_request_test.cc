// Bad requests through the gRPC stub: each one must fail with the exact
// status code (NOT_FOUND for an unknown activation, RESOURCE_EXHAUSTED for a
// request over a limit, INVALID_ARGUMENT otherwise) and a message that names
// the offending field and value, so a caller can fix the request from the
// message alone.
#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "tests/service/harness.h"

namespace actd::service_test {
namespace {

using grpc::StatusCode;

constexpr pb::DataType kF32 = pb::DATA_TYPE_FLOAT32;
constexpr pb::DataType kF64 = pb::DATA_TYPE_FLOAT64;

class InvalidRequest : public ::testing::Test {
 protected:
  // Valid requests for `name` over [-1, 0.5, 2, 3] float32 raw.
  static pb::ForwardRequest Forward(const std::string& name) {
    pb::ForwardRequest request;
    request.mutable_activation()->set_name(name);
    *request.mutable_input() =
        MakeTensor({-1, 0.5, 2, 3}, {4}, kF32, Encoding::kRaw);
    return request;
  }
  static pb::BackwardRequest Backward(const std::string& name) {
    pb::BackwardRequest request;
    request.mutable_activation()->set_name(name);
    *request.mutable_input() =
        MakeTensor({-1, 0.5, 2, 3}, {4}, kF32, Encoding::kRaw);
    return request;
  }

  grpc::Status Call(const pb::ForwardRequest& request) {
    pb::ForwardResponse response;
    grpc::Status status = server_.Forward(request, &response);
    if (!status.ok()) {
      EXPECT_FALSE(response.has_output()) << "a failed call returned output";
    }
    return status;
  }
  grpc::Status Call(const pb::BackwardRequest& request) {
    pb::BackwardResponse response;
    grpc::Status status = server_.Backward(request, &response);
    if (!status.ok()) {
      EXPECT_FALSE(response.has_grad_input())
          << "a failed call returned grad_input";
    }
    return status;
  }

  // Forward with `input` in place of the valid one.
  grpc::Status ForwardWithInput(const pb::Tensor& input,
                                const std::string& name = "relu") {
    pb::ForwardRequest request = Forward(name);
    *request.mutable_input() = input;
    return Call(request);
  }

  InProcessServer server_;
};

TEST_F(InvalidRequest, UnknownActivationIsNotFound) {
  ExpectError(Call(Forward("softsign")), StatusCode::NOT_FOUND,
              {"activation.name", "\"softsign\"", "sigmoid"});
  ExpectError(Call(Backward("softsign")), StatusCode::NOT_FOUND,
              {"activation.name", "\"softsign\""});
  ExpectError(Call(Forward("")), StatusCode::NOT_FOUND,
              {"activation.name", "\"\""});
  // Names are case-sensitive.
  ExpectError(Call(Forward("ReLU")), StatusCode::NOT_FOUND,
              {"activation.name", "\"ReLU\""});
}

TEST_F(InvalidRequest, UnknownParameter) {
  pb::ForwardRequest request = Forward("elu");
  (*request.mutable_activation()->mutable_params())["beta"] = Number(1);
  ExpectError(
      Call(request), StatusCode::INVALID_ARGUMENT,
      {"activation.params[\"beta\"]", "unknown parameter", "elu", "alpha"});

  request = Forward("relu");
  (*request.mutable_activation()->mutable_params())["alpha"] = Number(0.1);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"alpha\"]", "unknown parameter", "relu"});
}

TEST_F(InvalidRequest, ParameterOfTheWrongKind) {
  pb::ForwardRequest request = Forward("elu");
  (*request.mutable_activation()->mutable_params())["alpha"] = Text("big");
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"alpha\"]", "number", "\"big\""});

  request = Forward("gelu");
  (*request.mutable_activation()->mutable_params())["approximate"] = Flag(true);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"approximate\"]", "text", "true"});

  request = Forward("dice");
  (*request.mutable_activation()->mutable_params())["training"] = Number(0);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"training\"]", "flag", "number 0"});
}

TEST_F(InvalidRequest, ParameterOutOfRange) {
  struct Bad {
    const char* activation;
    const char* param;
    pb::Param value;
    const char* value_text;
  };
  const Bad cases[] = {
      {"elu", "alpha", Number(-1), "-1"},
      {"leaky_relu", "alpha", Number(1.5), "1.5"},
      {"gelu", "approximate", Text("foo"), "\"foo\""},
      {"maxout", "pieces", Number(0), "0"},
      {"maxout", "pieces", Number(1.5), "1.5"},
      {"swish", "beta", Number(std::numeric_limits<double>::quiet_NaN()),
       "nan"},
      {"swish", "beta", Number(std::numeric_limits<double>::infinity()), "inf"},
      {"dice", "epsilon", Number(0), "0"},
      {"prelu", "channel_axis", Number(0.5), "0.5"},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(std::string(bad.activation) + "." + bad.param);
    pb::ForwardRequest request = Forward(bad.activation);
    (*request.mutable_activation()->mutable_params())[bad.param] = bad.value;
    ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
                {std::string("activation.params[\"") + bad.param + "\"]",
                 bad.value_text, "out of range", "allowed"});
  }
}

TEST_F(InvalidRequest, ParameterWithNoValue) {
  pb::ForwardRequest request = Forward("elu");
  (*request.mutable_activation()->mutable_params())["alpha"] = pb::Param();
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"alpha\"]", "no value"});
}

TEST_F(InvalidRequest, WeightOfTheWrongShape) {
  pb::ForwardRequest request = Forward("prelu");
  *request.mutable_input() =
      MakeTensor(Values(24, 1.0), {2, 4, 3}, kF32, Encoding::kRaw);
  (*request.mutable_activation()->mutable_weights())["alpha"] =
      MakeTensor({0.1, 0.2, 0.3}, {3}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"alpha\"].shape", "[3]", "[4]"});

  request = Forward("dice");
  *request.mutable_input() =
      MakeTensor(Values(6, 1.0), {3, 2}, kF32, Encoding::kRaw);
  (*request.mutable_activation()->mutable_weights())["alpha"] =
      MakeTensor({0.1, 0.2, 0.3}, {3}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"alpha\"].shape", "[3]", "[2]"});

  request = Forward("maxout");
  *request.mutable_input() =
      MakeTensor(Values(6, 1.0), {2, 3}, kF32, Encoding::kRaw);
  (*request.mutable_activation()->mutable_weights())["weight"] =
      MakeTensor(Values(8, 1.0), {4, 2}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"weight\"].shape", "[4, 2]"});
}

TEST_F(InvalidRequest, UnknownWeight) {
  pb::ForwardRequest request = Forward("relu");
  (*request.mutable_activation()->mutable_weights())["w"] =
      MakeTensor({1}, {1}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"w\"]", "unknown weight", "relu"});

  request = Forward("prelu");
  (*request.mutable_activation()->mutable_weights())["slope"] =
      MakeTensor({1}, {1}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"slope\"]", "unknown weight", "alpha"});
}

TEST_F(InvalidRequest, WeightDtypeDiffersFromInput) {
  pb::ForwardRequest request = Forward("prelu");
  (*request.mutable_activation()->mutable_weights())["alpha"] =
      MakeTensor({0.5}, {}, kF64, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"alpha\"].dtype", "float64", "float32"});
}

TEST_F(InvalidRequest, BadWeightTensorNamesTheWeight) {
  pb::ForwardRequest request = Forward("prelu");
  pb::Tensor alpha = MakeTensor({0.5}, {}, kF32, Encoding::kRaw);
  alpha.add_shape(-3);
  (*request.mutable_activation()->mutable_weights())["alpha"] = alpha;
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"alpha\"].shape[0]", "-3"});
}

TEST_F(InvalidRequest, ElementCountDiffersFromShape) {
  ExpectError(
      ForwardWithInput(MakeTensor({1, 2, 3}, {2, 2}, kF32, Encoding::kTyped)),
      StatusCode::INVALID_ARGUMENT, {"input.float_data", "3", "[2, 2]", "4"});
  ExpectError(
      ForwardWithInput(MakeTensor({1, 2, 3}, {2, 2}, kF64, Encoding::kTyped)),
      StatusCode::INVALID_ARGUMENT, {"input.double_data", "3", "[2, 2]", "4"});
  ExpectError(
      ForwardWithInput(MakeTensor({1, 2, 3}, {2, 2}, kF32, Encoding::kRaw)),
      StatusCode::INVALID_ARGUMENT, {"input.raw_data", "3", "[2, 2]", "4"});
  ExpectError(ForwardWithInput(
                  MakeTensor({1, 2, 3, 4, 5}, {2, 2}, kF64, Encoding::kRaw)),
              StatusCode::INVALID_ARGUMENT,
              {"input.raw_data", "5", "[2, 2]", "4"});
  // A scalar holds exactly one element.
  ExpectError(ForwardWithInput(MakeTensor({1, 2}, {}, kF32, Encoding::kTyped)),
              StatusCode::INVALID_ARGUMENT, {"input.float_data", "2", "[]"});
}

TEST_F(InvalidRequest, NegativeDimension) {
  ExpectError(ForwardWithInput(MakeTensor({}, {3, -2}, kF32, Encoding::kRaw)),
              StatusCode::INVALID_ARGUMENT,
              {"input.shape[1]", "-2", "negative"});
}

TEST_F(InvalidRequest, ShapeWhoseProductOverflowsInt64) {
  pb::Tensor input = MakeTensor({1}, {}, kF32, Encoding::kRaw);
  input.add_shape(int64_t{1} << 32);
  input.add_shape(int64_t{1} << 32);
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.shape", "[4294967296, 4294967296]", "int64"});
  // 2^62 · 4 wraps to 0 in int64: still an overflow, not an empty tensor.
  pb::Tensor wraps = MakeTensor({1}, {}, kF32, Encoding::kRaw);
  wraps.add_shape(int64_t{1} << 62);
  wraps.add_shape(4);
  ExpectError(ForwardWithInput(wraps), StatusCode::INVALID_ARGUMENT,
              {"input.shape", "[4611686018427387904, 4]", "int64"});
}

TEST_F(InvalidRequest, RawDataNotAMultipleOfTheElementSize) {
  pb::Tensor input;
  input.set_dtype(kF32);
  input.add_shape(2);
  input.set_raw_data(std::string(10, '\0'));
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.raw_data", "10 bytes", "4"});
  input.set_dtype(kF64);
  input.set_raw_data(std::string(12, '\0'));
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.raw_data", "12 bytes", "8"});
}

TEST_F(InvalidRequest, NoData) {
  pb::Tensor input;
  input.set_dtype(kF32);
  input.add_shape(3);
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input", "no data", "[3]"});
  input.set_dtype(pb::DATA_TYPE_UNSPECIFIED);
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.dtype", "DATA_TYPE_UNSPECIFIED", "no data"});
  // A request without an input at all is a scalar with no data.
  pb::ForwardRequest request = Forward("relu");
  request.clear_input();
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT, {"input"});
}

TEST_F(InvalidRequest, TwoKindsOfData) {
  pb::Tensor input = MakeTensor({1, 2}, {2}, kF32, Encoding::kRaw);
  input.add_float_data(1);
  input.add_float_data(2);
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input", "more than one kind of data", "raw_data 8 bytes",
               "float_data 2 values"});
  pb::Tensor typed = MakeTensor({1, 2}, {2}, kF32, Encoding::kTyped);
  typed.add_double_data(1);
  typed.add_double_data(2);
  ExpectError(ForwardWithInput(typed), StatusCode::INVALID_ARGUMENT,
              {"input", "more than one kind of data", "double_data 2 values"});
}

TEST_F(InvalidRequest, DtypeDisagreesWithTypedData) {
  pb::Tensor input = MakeTensor({1, 2}, {2}, kF32, Encoding::kTyped);
  input.set_dtype(kF64);
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.dtype", "DATA_TYPE_FLOAT64", "float_data"});
  pb::Tensor doubles = MakeTensor({1, 2}, {2}, kF64, Encoding::kTyped);
  doubles.set_dtype(kF32);
  ExpectError(ForwardWithInput(doubles), StatusCode::INVALID_ARGUMENT,
              {"input.dtype", "DATA_TYPE_FLOAT32", "double_data"});
}

TEST_F(InvalidRequest, RawDataWithUnspecifiedDtype) {
  pb::Tensor input = MakeTensor({1, 2}, {2}, kF32, Encoding::kRaw);
  input.set_dtype(pb::DATA_TYPE_UNSPECIFIED);
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.dtype", "DATA_TYPE_UNSPECIFIED", "raw_data"});
}

TEST_F(InvalidRequest, UnknownDtypeValue) {
  pb::Tensor input = MakeTensor({1, 2}, {2}, kF32, Encoding::kRaw);
  input.set_dtype(static_cast<pb::DataType>(7));
  ExpectError(ForwardWithInput(input), StatusCode::INVALID_ARGUMENT,
              {"input.dtype", "7", "not a known DataType"});
}

TEST_F(InvalidRequest, GradOutputShapeMismatch) {
  pb::BackwardRequest request = Backward("tanh");
  *request.mutable_grad_output() =
      MakeTensor({1, 1, 1}, {3}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"grad_output.shape", "[3]", "[4]"});
  // Maxout's output has the reduced shape: the input's shape is wrong there.
  request = Backward("maxout");
  *request.mutable_grad_output() =
      MakeTensor({1, 1, 1, 1}, {4}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"grad_output.shape", "[4]", "[2]"});
}

TEST_F(InvalidRequest, OutputShapeMismatch) {
  pb::BackwardRequest request = Backward("sigmoid");
  *request.mutable_output() =
      MakeTensor({0.5, 0.5, 0.5, 0.5}, {2, 2}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"output.shape", "[2, 2]", "[4]"});
}

TEST_F(InvalidRequest, GradOutputDtypeMismatch) {
  pb::BackwardRequest request = Backward("tanh");
  *request.mutable_grad_output() =
      MakeTensor({1, 1, 1, 1}, {4}, kF64, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"grad_output.dtype", "float64", "float32"});
  request = Backward("tanh");
  *request.mutable_output() =
      MakeTensor({1, 1, 1, 1}, {4}, kF64, Encoding::kTyped);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"output.dtype", "float64", "float32"});
}

TEST_F(InvalidRequest, BadGradOutputTensorNamesTheField) {
  pb::BackwardRequest request = Backward("tanh");
  *request.mutable_grad_output() =
      MakeTensor({1, 1, 1}, {4}, kF32, Encoding::kTyped);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"grad_output.float_data", "3", "[4]"});
  request = Backward("tanh");
  pb::Tensor y = MakeTensor({1, 1, 1, 1}, {4}, kF32, Encoding::kRaw);
  y.set_dtype(pb::DATA_TYPE_UNSPECIFIED);
  *request.mutable_output() = y;
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"output.dtype", "DATA_TYPE_UNSPECIFIED"});
}

TEST_F(InvalidRequest, MaxoutSizeNotDivisibleByPieces) {
  pb::ForwardRequest request = Forward("maxout");
  *request.mutable_input() =
      MakeTensor(Values(10, 1.0), {2, 5}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"input.shape[1]", "5", "activation.params[\"pieces\"] = 2"});
  (*request.mutable_activation()->mutable_params())["pieces"] = Number(3);
  (*request.mutable_activation()->mutable_params())["axis"] = Number(0);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"input.shape[0]", "2", "activation.params[\"pieces\"] = 3"});
}

TEST_F(InvalidRequest, AxisOutOfRange) {
  pb::ForwardRequest request = Forward("maxout");
  (*request.mutable_activation()->mutable_params())["axis"] = Number(1);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"axis\"]", "1", "rank 1"});
  request = Forward("dice");
  (*request.mutable_activation()->mutable_params())["axis"] = Number(-2);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"axis\"]", "-2", "rank 1"});
  request = Forward("prelu");
  *request.mutable_input() =
      MakeTensor(Values(6, 1.0), {2, 3}, kF32, Encoding::kRaw);
  (*request.mutable_activation()->mutable_params())["channel_axis"] = Number(2);
  (*request.mutable_activation()->mutable_weights())["alpha"] =
      MakeTensor({0.1, 0.2, 0.3}, {3}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.params[\"channel_axis\"]", "2", "rank 2"});
}

TEST_F(InvalidRequest, ReducingActivationsRejectScalars) {
  for (const char* name : {"maxout", "dice"}) {
    pb::ForwardRequest request = Forward(name);
    *request.mutable_input() = MakeTensor({1.5}, {}, kF32, Encoding::kRaw);
    ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
                {"activation.params[\"axis\"]", "rank 0"});
  }
}

TEST_F(InvalidRequest, DiceInferenceWithoutRunningStatistics) {
  pb::ForwardRequest request = Forward("dice");
  (*request.mutable_activation()->mutable_params())["training"] = Flag(false);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"running_", "required",
               "activation.params[\"training\"]"});
  (*request.mutable_activation()->mutable_weights())["running_mean"] =
      MakeTensor({0.5}, {1}, kF32, Encoding::kRaw);
  *request.mutable_input() =
      MakeTensor({-1, 0.5, 2, 3}, {4, 1}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"running_var\"]", "required"});
  (*request.mutable_activation()->mutable_weights())["running_var"] =
      MakeTensor({-0.5}, {1}, kF32, Encoding::kRaw);
  ExpectError(Call(request), StatusCode::INVALID_ARGUMENT,
              {"activation.weights[\"running_var\"][0]", "-0.5"});
}

TEST_F(InvalidRequest, MaxoutBiasWithoutWeight) {
  pb::ForwardRequest request = Forward("maxout");
  (*request.mutable_activation()->mutable_weights())["bias"] =
      MakeTensor({0, 0}, {2}, kF32, Encoding::kRaw);
  ExpectError(
      Call(request), StatusCode::INVALID_ARGUMENT,
      {"activation.weights[\"bias\"]", "activation.weights[\"weight\"]"});
}

// A deadline too short for the request's size is refused up front, before
// any computation. With a floor of 1 M elements/s, 1 Mi elements need at
// least 1049 ms; a 1 s deadline leaves time for the 4 MiB to arrive.
TEST(Deadline, TooShortForTheSizeIsDeadlineExceeded) {
  ServiceOptions options;
  options.min_elements_per_second = 1e6;
  InProcessServer server(options, 16 << 20);
  pb::ForwardRequest request;
  request.mutable_activation()->set_name("gelu");
  const int64_t n = int64_t{1} << 20;
  pb::Tensor* input = request.mutable_input();
  input->set_dtype(kF32);
  input->add_shape(n);
  input->mutable_raw_data()->resize(n * sizeof(float));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(1000));
  pb::ForwardResponse response;
  const grpc::Status status =
      server.stub().Forward(&context, request, &response);
  ExpectError(status, StatusCode::DEADLINE_EXCEEDED,
              {"deadline", "1048576 elements"});
  const auto& trailers = context.GetServerTrailingMetadata();
  auto compute = trailers.find("actd-compute-us");
  ASSERT_NE(compute, trailers.end());
  EXPECT_EQ(std::string(compute->second.data(), compute->second.size()),
            "0.000");  // refused before computing
}

// Validation comes before admission: a shape its data does not back is
// malformed, whatever the deadline or the size it claims.
TEST_F(InvalidRequest, ShapeTheDataDoesNotBackIsInvalidBeforeTheDeadline) {
  pb::ForwardRequest request = Forward("gelu");
  pb::Tensor* input = request.mutable_input();
  input->clear_shape();
  input->add_shape(1000000000000);  // 10^12 elements, with 8 bytes of data
  input->set_raw_data(std::string(8, '\0'));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  pb::ForwardResponse response;
  ExpectError(server_.stub().Forward(&context, request, &response),
              StatusCode::INVALID_ARGUMENT,
              {"input.raw_data", "2 elements", "1000000000000 elements"});
  // No data at all for a large shape: malformed too.
  input->clear_raw_data();
  grpc::ClientContext context2;
  context2.set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(2));
  ExpectError(server_.stub().Forward(&context2, request, &response),
              StatusCode::INVALID_ARGUMENT,
              {"input", "no data", "1000000000000 elements"});
}

TEST(Limits, InputOverMaxElementsIsResourceExhausted) {
  ServiceOptions options;
  options.max_elements = 100;
  InProcessServer server(options);
  pb::ForwardRequest request;
  request.mutable_activation()->set_name("relu");
  *request.mutable_input() =
      MakeTensor(Values(101, 1.0), {101}, kF32, Encoding::kRaw);
  pb::ForwardResponse response;
  ExpectError(server.Forward(request, &response),
              StatusCode::RESOURCE_EXHAUSTED,
              {"input", "101", "100", "--max_elements"});
  // A shape over the limit that the data does not back is malformed first.
  pb::Tensor shape_only;
  shape_only.set_dtype(kF32);
  shape_only.add_shape(1000);
  shape_only.add_shape(1000);
  *request.mutable_input() = shape_only;
  ExpectError(server.Forward(request, &response), StatusCode::INVALID_ARGUMENT,
              {"input", "no data", "1000000 elements"});
  // Exactly at the limit is fine.
  *request.mutable_input() =
      MakeTensor(Values(100, -1.0), {10, 10}, kF32, Encoding::kTyped);
  const grpc::Status ok = server.Forward(request, &response);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  ExpectTensor(response.output(), kF32, Encoding::kTyped, {10, 10},
               Values(100, 0.0), "output");
  // Backward's grad_output and the weights are held to it too.
  pb::BackwardRequest backward;
  backward.mutable_activation()->set_name("relu");
  *backward.mutable_input() =
      MakeTensor(Values(4, 1.0), {4}, kF32, Encoding::kRaw);
  *backward.mutable_grad_output() =
      MakeTensor(Values(101, 1.0), {101}, kF32, Encoding::kRaw);
  pb::BackwardResponse dx;
  ExpectError(server.Backward(backward, &dx), StatusCode::RESOURCE_EXHAUSTED,
              {"grad_output", "101", "--max_elements"});
  pb::ForwardRequest prelu;
  prelu.mutable_activation()->set_name("prelu");
  *prelu.mutable_input() =
      MakeTensor(Values(4, 1.0), {4}, kF32, Encoding::kRaw);
  (*prelu.mutable_activation()->mutable_weights())["alpha"] =
      MakeTensor(Values(101, 1.0), {101}, kF32, Encoding::kRaw);
  ExpectError(server.Forward(prelu, &response), StatusCode::RESOURCE_EXHAUSTED,
              {"activation.weights[\"alpha\"]", "101", "--max_elements"});
}

}  // namespace
}  // namespace actd::service_test
