// Forward and Backward through the gRPC stub for every activation, both dtypes
// and both encodings, against the double-precision references of
// reference.cc: outputs, extras, grad_input and grad_params (keys, shapes,
// values), grad_output absent meaning ones, and Backward with `output` given
// agreeing with Backward without. Also empty tensors, scalars, typed input
// without a dtype and mixed encodings.
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "gtest/gtest.h"
#include "tests/service/harness.h"
#include "tests/service/reference.h"

namespace actd::service_test {
namespace {

std::set<std::string> Keys(
    const google::protobuf::Map<std::string, pb::Tensor>& map) {
  std::set<std::string> keys;
  for (const auto& [name, t] : map) keys.insert(name);
  return keys;
}
template <typename V>
std::set<std::string> Keys(const std::map<std::string, V>& map) {
  std::set<std::string> keys;
  for (const auto& [name, v] : map) keys.insert(name);
  return keys;
}

using Variant = std::tuple<std::string, pb::DataType, Encoding>;

class EveryActivation : public ::testing::TestWithParam<Variant> {
 protected:
  static void SetUpTestSuite() { server_ = new InProcessServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  const Case& c() const { return FindCase(std::get<0>(GetParam())); }
  pb::DataType dtype() const { return std::get<1>(GetParam()); }
  Encoding encoding() const { return std::get<2>(GetParam()); }

  // Checks a Backward response against the reference.
  void ExpectBackward(const pb::BackwardResponse& response,
                      const Reference& ref) {
    ExpectTensor(response.grad_input(), dtype(), encoding(), c().shape, ref.dx,
                 "grad_input");
    EXPECT_EQ(Keys(response.grad_params()), Keys(ref.grads));
    for (const auto& [name, expected] : ref.grads) {
      auto it = response.grad_params().find(name);
      if (it == response.grad_params().end()) continue;
      ExpectTensor(it->second, dtype(), encoding(), expected.shape,
                   expected.values, "grad_params[\"" + name + "\"]");
    }
  }

  static InProcessServer* server_;
};
InProcessServer* EveryActivation::server_ = nullptr;

TEST_P(EveryActivation, ForwardMatchesReference) {
  pb::ForwardResponse response;
  const grpc::Status status =
      server_->Forward(ForwardOf(c(), dtype(), encoding()), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const Reference ref = ReferenceOf(c(), dtype(), false);
  ExpectTensor(response.output(), dtype(), encoding(), c().out_shape, ref.y,
               "output");
  EXPECT_EQ(Keys(response.extras()), Keys(ref.extras));
  for (const auto& [name, expected] : ref.extras) {
    auto it = response.extras().find(name);
    if (it == response.extras().end()) continue;
    ExpectTensor(it->second, dtype(), encoding(), expected.shape,
                 expected.values, "extras[\"" + name + "\"]");
  }
}

// With grad_output, without it (ones), and with `output` from Forward given:
// each against the reference, and the last agreeing with the first.
TEST_P(EveryActivation, BackwardMatchesReference) {
  pb::BackwardRequest request = BackwardOf(c(), dtype(), encoding(), true);
  const Reference ref = ReferenceOf(c(), dtype(), true);
  pb::BackwardResponse with_dy;
  {
    SCOPED_TRACE("with grad_output");
    const grpc::Status status = server_->Backward(request, &with_dy);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectBackward(with_dy, ref);
  }
  {
    SCOPED_TRACE("without grad_output: ones");
    pb::BackwardResponse response;
    const grpc::Status status = server_->Backward(
        BackwardOf(c(), dtype(), encoding(), false), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectBackward(response, ReferenceOf(c(), dtype(), false));
  }
  {
    SCOPED_TRACE("with output");
    pb::ForwardResponse forward;
    grpc::Status status =
        server_->Forward(ForwardOf(c(), dtype(), encoding()), &forward);
    ASSERT_TRUE(status.ok()) << status.error_message();
    *request.mutable_output() = forward.output();
    pb::BackwardResponse with_y;
    status = server_->Backward(request, &with_y);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectBackward(with_y, ref);
    // Agreement between the two forms, element by element.
    ExpectTensor(with_y.grad_input(), dtype(), encoding(), c().shape,
                 ValuesOf(with_dy.grad_input()), "grad_input with output");
    for (const auto& [name, t] : with_dy.grad_params()) {
      auto it = with_y.grad_params().find(name);
      ASSERT_NE(it, with_y.grad_params().end()) << name;
      ExpectTensor(it->second, dtype(), encoding(),
                   Shape(t.shape().begin(), t.shape().end()), ValuesOf(t),
                   "grad_params[\"" + name + "\"] with output");
    }
  }
}

std::vector<std::string> CaseLabels() {
  std::vector<std::string> labels;
  for (const Case& c : AllCases()) labels.push_back(c.label);
  return labels;
}

INSTANTIATE_TEST_SUITE_P(
    Service, EveryActivation,
    ::testing::Combine(::testing::ValuesIn(CaseLabels()),
                       ::testing::Values(pb::DATA_TYPE_FLOAT32,
                                         pb::DATA_TYPE_FLOAT64),
                       ::testing::Values(Encoding::kRaw, Encoding::kTyped)),
    [](const ::testing::TestParamInfo<Variant>& info) {
      return std::get<0>(info.param) + "_" +
             DTypeName(std::get<1>(info.param)) + "_" +
             EncodingName(std::get<2>(info.param));
    });

// Every activation of the registry is covered by the table of cases
// (reference.cc), and the table names no other.
TEST(EveryActivationTable, CoversEveryActivationOfTheRegistry) {
  std::set<std::string> names;
  for (const Case& c : AllCases()) names.insert(c.name);
  for (const std::string& name : RegistryNames()) {
    EXPECT_EQ(names.count(name), 1u)
        << "no case for \"" << name
        << "\" in BuildCases() (tests/service/reference.cc)";
    names.erase(name);
  }
  EXPECT_TRUE(names.empty())
      << "cases for unknown activations: " << *names.begin();
}

class Evaluate : public ::testing::Test {
 protected:
  InProcessServer server_;
};

// Typed data with dtype left UNSPECIFIED: the field implies the dtype, and the
// response sets it.
TEST_F(Evaluate, TypedInputWithoutDtypeAnswersTypedWithDtype) {
  for (pb::DataType dtype : {pb::DATA_TYPE_FLOAT32, pb::DATA_TYPE_FLOAT64}) {
    pb::ForwardRequest request;
    request.mutable_activation()->set_name("relu");
    *request.mutable_input() =
        MakeTensor({-1.5, 0.5, 2}, {3}, dtype, Encoding::kTyped);
    request.mutable_input()->set_dtype(pb::DATA_TYPE_UNSPECIFIED);
    pb::ForwardResponse response;
    const grpc::Status status = server_.Forward(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ExpectTensor(response.output(), dtype, Encoding::kTyped, {3}, {0, 0.5, 2},
                 "output");
  }
}

// The response follows the input's encoding, whatever the encoding of the
// weights and of grad_output.
TEST_F(Evaluate, ResponseFollowsInputEncodingWithMixedEncodings) {
  for (Encoding input : {Encoding::kRaw, Encoding::kTyped}) {
    const Encoding other =
        input == Encoding::kRaw ? Encoding::kTyped : Encoding::kRaw;
    pb::BackwardRequest request;
    request.mutable_activation()->set_name("prelu");
    (*request.mutable_activation()->mutable_weights())["alpha"] =
        MakeTensor({0.5, 0.25}, {2}, pb::DATA_TYPE_FLOAT64, other);
    *request.mutable_input() =
        MakeTensor({-2, 3, 1, -4}, {2, 2}, pb::DATA_TYPE_FLOAT64, input);
    *request.mutable_grad_output() =
        MakeTensor({1.5, -1, 2, 0.5}, {2, 2}, pb::DATA_TYPE_FLOAT64, other);
    pb::BackwardResponse response;
    const grpc::Status status = server_.Backward(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    // Channel 0 holds x = -2 and 1, channel 1 holds 3 and -4 (axis 1).
    ExpectTensor(response.grad_input(), pb::DATA_TYPE_FLOAT64, input, {2, 2},
                 {1.5 * 0.5, -1, 2, 0.5 * 0.25}, "grad_input");
    ASSERT_EQ(response.grad_params().count("alpha"), 1u);
    ExpectTensor(response.grad_params().at("alpha"), pb::DATA_TYPE_FLOAT64,
                 input, {2}, {1.5 * -2, 0.5 * -4}, "grad_params[\"alpha\"]");
  }
}

// Shape [0]: every activation answers an empty tensor of the right shape, and
// zero gradients for its learnable parameters.
TEST_F(Evaluate, EmptyTensorsWorkForEveryActivation) {
  const std::map<std::string, ExpectedTensor> grads = {
      {"elu", {{}, {0}}},
      {"prelu", {{}, {0}}},
      {"swish", {{}, {0}}},
      {"dice", {{0}, {}}},
  };
  for (const std::string& name : RegistryNames()) {
    SCOPED_TRACE(name);
    for (pb::DataType dtype : {pb::DATA_TYPE_FLOAT32, pb::DATA_TYPE_FLOAT64}) {
      pb::ForwardRequest forward;
      forward.mutable_activation()->set_name(name);
      *forward.mutable_input() = MakeTensor({}, {0}, dtype, Encoding::kRaw);
      pb::ForwardResponse y;
      grpc::Status status = server_.Forward(forward, &y);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ExpectTensor(y.output(), dtype, Encoding::kRaw, {0}, {}, "output");

      pb::BackwardRequest backward;
      *backward.mutable_activation() = forward.activation();
      *backward.mutable_input() = forward.input();
      *backward.mutable_grad_output() = forward.input();
      pb::BackwardResponse dx;
      status = server_.Backward(backward, &dx);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ExpectTensor(dx.grad_input(), dtype, Encoding::kRaw, {0}, {},
                   "grad_input");
      auto it = grads.find(name);
      if (it == grads.end()) {
        EXPECT_TRUE(dx.grad_params().empty());
        continue;
      }
      ASSERT_EQ(dx.grad_params().size(), 1u);
      const auto& [grad_name, grad] = *dx.grad_params().begin();
      EXPECT_EQ(grad_name, name == "swish" ? "beta" : "alpha");
      ExpectTensor(grad, dtype, Encoding::kRaw, it->second.shape,
                   it->second.values, "grad_params");
    }
  }
}

// A 2 x 0 tensor is empty too.
TEST_F(Evaluate, EmptyTensorWithZeroInnerDimension) {
  pb::ForwardRequest request;
  request.mutable_activation()->set_name("tanh");
  *request.mutable_input() =
      MakeTensor({}, {2, 0}, pb::DATA_TYPE_FLOAT32, Encoding::kRaw);
  pb::ForwardResponse response;
  const grpc::Status status = server_.Forward(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectTensor(response.output(), pb::DATA_TYPE_FLOAT32, Encoding::kRaw, {2, 0},
               {}, "output");
}

// Shape []: a scalar of one element, for every element-wise activation.
TEST_F(Evaluate, ScalarsWorkForElementwiseActivations) {
  for (const Case& every : AllCases()) {
    if (!FindActivation(every.name)->info().elementwise ||
        every.shape.size() != 1 || !every.weights.empty()) {
      continue;
    }
    SCOPED_TRACE(every.label);
    Case c = every;
    c.shape = {};
    c.out_shape = {};
    c.x = {-0.75};
    for (pb::DataType dtype : {pb::DATA_TYPE_FLOAT32, pb::DATA_TYPE_FLOAT64}) {
      for (Encoding encoding : {Encoding::kRaw, Encoding::kTyped}) {
        pb::ForwardResponse y;
        grpc::Status status =
            server_.Forward(ForwardOf(c, dtype, encoding), &y);
        ASSERT_TRUE(status.ok()) << status.error_message();
        const Reference ref = ReferenceOf(c, dtype, true);
        ExpectTensor(y.output(), dtype, encoding, {}, ref.y, "output");
        pb::BackwardResponse dx;
        status = server_.Backward(BackwardOf(c, dtype, encoding, true), &dx);
        ASSERT_TRUE(status.ok()) << status.error_message();
        ExpectTensor(dx.grad_input(), dtype, encoding, {}, ref.dx,
                     "grad_input");
      }
    }
  }
}

// Infinities and NaN survive the wire in both encodings and give the spec's
// limits: NaN in, NaN out; f(±inf) and f'(±inf) the mathematical limits.
TEST_F(Evaluate, InfinitiesAndNanGiveTheSpecLimits) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  constexpr double kSeluLambda = 1.0507009873554804934193349852946;
  constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
  struct Limits {
    const char* name;
    const char* approximate;  // gelu only
    Values y, dx;             // at -inf, +inf, NaN
  };
  const Limits cases[] = {
      {"sigmoid", nullptr, {0, 1, kNan}, {0, 0, kNan}},
      {"tanh", nullptr, {-1, 1, kNan}, {0, 0, kNan}},
      {"relu", nullptr, {0, kInf, kNan}, {0, 1, kNan}},
      {"elu", nullptr, {-1, kInf, kNan}, {0, 1, kNan}},
      {"selu",
       nullptr,
       {-kSeluLambda * kSeluAlpha, kInf, kNan},
       {0, kSeluLambda, kNan}},
      {"leaky_relu", nullptr, {-kInf, kInf, kNan}, {0.01, 1, kNan}},
      {"prelu", nullptr, {-kInf, kInf, kNan}, {0.25, 1, kNan}},
      {"gelu", "none", {0, kInf, kNan}, {0, 1, kNan}},
      {"gelu", "tanh", {0, kInf, kNan}, {0, 1, kNan}},
      {"gelu", "sigmoid", {0, kInf, kNan}, {0, 1, kNan}},
      {"swish", nullptr, {0, kInf, kNan}, {0, 1, kNan}},
      {"mish", nullptr, {0, kInf, kNan}, {0, 1, kNan}},
      {"identity", nullptr, {-kInf, kInf, kNan}, {1, 1, kNan}},
  };
  for (const Limits& l : cases) {
    SCOPED_TRACE(std::string(l.name) + (l.approximate ? " " : "") +
                 (l.approximate ? l.approximate : ""));
    for (pb::DataType dtype : {pb::DATA_TYPE_FLOAT32, pb::DATA_TYPE_FLOAT64}) {
      for (Encoding encoding : {Encoding::kRaw, Encoding::kTyped}) {
        pb::BackwardRequest request;
        request.mutable_activation()->set_name(l.name);
        if (l.approximate != nullptr) {
          (*request.mutable_activation()->mutable_params())["approximate"] =
              Text(l.approximate);
        }
        *request.mutable_input() =
            MakeTensor({-kInf, kInf, kNan}, {3}, dtype, encoding);
        pb::ForwardRequest forward;
        *forward.mutable_activation() = request.activation();
        *forward.mutable_input() = request.input();
        pb::ForwardResponse y;
        grpc::Status status = server_.Forward(forward, &y);
        ASSERT_TRUE(status.ok()) << status.error_message();
        ExpectTensor(y.output(), dtype, encoding, {3}, l.y, "output");
        pb::BackwardResponse dx;
        status = server_.Backward(request, &dx);
        ASSERT_TRUE(status.ok()) << status.error_message();
        ExpectTensor(dx.grad_input(), dtype, encoding, {3}, l.dx, "grad_input");
      }
    }
  }
}

// Dice in training differentiates through the batch statistics: its grad_input
// must match central differences of the service's own Forward.
TEST_F(Evaluate, DiceTrainingBackwardMatchesFiniteDifferencesOfForward) {
  const Case& c = FindCase("dice_training");
  const Values dy = Upstream(c.x.size());
  auto loss = [&](const Values& x) {
    pb::ForwardRequest request =
        ForwardOf(c, pb::DATA_TYPE_FLOAT64, Encoding::kTyped);
    *request.mutable_input() =
        MakeTensor(x, c.shape, pb::DATA_TYPE_FLOAT64, Encoding::kTyped);
    pb::ForwardResponse response;
    const grpc::Status status = server_.Forward(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    const Values y = ValuesOf(response.output());
    double sum = 0;
    for (size_t i = 0; i < y.size() && i < dy.size(); ++i) sum += dy[i] * y[i];
    return sum;
  };
  pb::BackwardResponse response;
  const grpc::Status status = server_.Backward(
      BackwardOf(c, pb::DATA_TYPE_FLOAT64, Encoding::kTyped, true), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const Values dx = ValuesOf(response.grad_input());
  ASSERT_EQ(dx.size(), c.x.size());
  const double h = 1e-5;
  for (size_t i = 0; i < c.x.size(); ++i) {
    Values up = c.x, down = c.x;
    up[i] += h;
    down[i] -= h;
    const double numeric = (loss(up) - loss(down)) / (2 * h);
    EXPECT_NEAR(dx[i], numeric, 1e-7 * (1 + std::abs(numeric)))
        << "x[" << i << "]";
  }
}

}  // namespace
}  // namespace actd::service_test
