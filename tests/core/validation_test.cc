// Request validation through RunForward and RunBackward: NOT_FOUND for an
// unknown activation, INVALID_ARGUMENT for every bad parameter, weight or
// shape, each message naming the field and the offending value.
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/kernel_table.h"
#include "tests/core/harness.h"

namespace actd::testing {
namespace {

// Runs the request forward (unless `backward_only`) and backward; each must
// fail with `code` and a message containing every one of `parts`.
template <typename T>
void ExpectRejected(const Request<T>& r, absl::StatusCode code,
                    const std::vector<std::string>& parts,
                    bool backward_only = false) {
  for (bool backward : {false, true}) {
    if (!backward && backward_only) continue;
    SCOPED_TRACE(backward ? "RunBackward" : "RunForward");
    absl::StatusOr<Results<T>> out = Run(r, backward);
    ASSERT_FALSE(out.ok()) << "accepted";
    EXPECT_EQ(out.status().code(), code) << out.status();
    for (const std::string& part : parts) {
      EXPECT_NE(out.status().message().find(part), std::string::npos)
          << "message lacks \"" << part << "\": " << out.status().message();
    }
  }
}

Request<float> Simple(std::string name, Shape shape = {2, 3}) {
  Request<float> r;
  r.name = std::move(name);
  r.input = {shape, std::vector<float>(NumElements(shape), 0.5f)};
  return r;
}

Request<float> With(Request<float> r, const std::string& param, ParamValue v) {
  r.params[param] = std::move(v);
  return r;
}

TEST(Validation, UnknownActivationIsNotFound) {
  ExpectRejected(Simple("softmax"), absl::StatusCode::kNotFound,
                 {"name", "softmax"});
  ExpectRejected(Simple(""), absl::StatusCode::kNotFound, {"name"});
  ExpectRejected(Simple("ReLU"), absl::StatusCode::kNotFound, {"ReLU"});
}

TEST(Validation, UnknownParameter) {
  ExpectRejected(With(Simple("elu"), "beta", 1.0),
                 absl::StatusCode::kInvalidArgument, {"beta"});
  ExpectRejected(With(Simple("relu"), "alpha", 0.1),
                 absl::StatusCode::kInvalidArgument, {"alpha"});
  ExpectRejected(With(Simple("gelu"), "approximation", std::string("tanh")),
                 absl::StatusCode::kInvalidArgument, {"approximation"});
}

TEST(Validation, ParameterOfTheWrongKind) {
  ExpectRejected(With(Simple("elu"), "alpha", std::string("big")),
                 absl::StatusCode::kInvalidArgument, {"alpha", "big"});
  ExpectRejected(With(Simple("gelu"), "approximate", 1.0),
                 absl::StatusCode::kInvalidArgument, {"approximate", "1"});
  ExpectRejected(With(Simple("dice"), "training", 1.0),
                 absl::StatusCode::kInvalidArgument, {"training", "1"});
  ExpectRejected(With(Simple("maxout"), "pieces", true),
                 absl::StatusCode::kInvalidArgument, {"pieces", "true"});
  ExpectRejected(With(Simple("swish"), "beta", false),
                 absl::StatusCode::kInvalidArgument, {"beta", "false"});
}

TEST(Validation, ParameterOutOfRange) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ExpectRejected(With(Simple("elu"), "alpha", -1.0),
                 absl::StatusCode::kInvalidArgument, {"alpha", "-1"});
  ExpectRejected(With(Simple("elu"), "alpha", 5000.0),
                 absl::StatusCode::kInvalidArgument, {"alpha", "5000"});
  ExpectRejected(With(Simple("leaky_relu"), "alpha", 2.0),
                 absl::StatusCode::kInvalidArgument, {"alpha", "2"});
  ExpectRejected(With(Simple("gelu"), "approximate", std::string("erf")),
                 absl::StatusCode::kInvalidArgument, {"approximate", "erf"});
  ExpectRejected(With(Simple("maxout"), "pieces", 0.0),
                 absl::StatusCode::kInvalidArgument, {"pieces", "0"});
  ExpectRejected(With(Simple("maxout"), "pieces", 2.5),
                 absl::StatusCode::kInvalidArgument, {"pieces", "2.5"});
  ExpectRejected(With(Simple("maxout"), "pieces", 1.5),
                 absl::StatusCode::kInvalidArgument, {"pieces", "1.5"});
  ExpectRejected(With(Simple("gelu"), "approximate", std::string("foo")),
                 absl::StatusCode::kInvalidArgument, {"approximate", "foo"});
  ExpectRejected(With(Simple("swish"), "beta", inf),
                 absl::StatusCode::kInvalidArgument, {"beta", "inf"});
  ExpectRejected(With(Simple("swish"), "beta", nan),
                 absl::StatusCode::kInvalidArgument, {"beta", "nan"});
  ExpectRejected(With(Simple("dice"), "epsilon", 0.0),
                 absl::StatusCode::kInvalidArgument, {"epsilon", "0"});
  ExpectRejected(With(Simple("dice"), "epsilon", -1e-3),
                 absl::StatusCode::kInvalidArgument, {"epsilon", "-0.001"});
}

TEST(Validation, AxisOutOfRange) {
  ExpectRejected(With(Simple("maxout"), "axis", 2.0),
                 absl::StatusCode::kInvalidArgument, {"axis", "2"});
  ExpectRejected(With(Simple("dice"), "axis", -3.0),
                 absl::StatusCode::kInvalidArgument, {"axis", "-3"});
  Request<float> p = With(Simple("prelu"), "channel_axis", 3.0);
  p.weights["alpha"] = {{3}, {0.1f, 0.2f, 0.3f}};
  ExpectRejected(p, absl::StatusCode::kInvalidArgument, {"channel_axis", "3"});
}

TEST(Validation, WrongWeightShape) {
  Request<float> prelu = Simple("prelu", {2, 4, 5});
  prelu.weights["alpha"] = {{3}, {0.1f, 0.2f, 0.3f}};
  ExpectRejected(prelu, absl::StatusCode::kInvalidArgument, {"alpha", "[3]"});
  prelu.weights["alpha"] = {{2, 2}, {0.1f, 0.2f, 0.3f, 0.4f}};
  ExpectRejected(prelu, absl::StatusCode::kInvalidArgument,
                 {"alpha", "[2, 2]"});

  Request<float> dice = Simple("dice");
  dice.weights["alpha"] = {{2}, {0.1f, 0.2f}};
  ExpectRejected(dice, absl::StatusCode::kInvalidArgument, {"alpha", "[2]"});
  Request<float> running = With(Simple("dice"), "training", false);
  running.weights["running_mean"] = {{4}, {0, 0, 0, 0}};
  running.weights["running_var"] = {{3}, {1, 1, 1}};
  ExpectRejected(running, absl::StatusCode::kInvalidArgument,
                 {"running_mean", "[4]"});

  Request<float> maxout = Simple("maxout");  // in = 3, pieces = 2
  maxout.weights["weight"] = {{5, 3}, std::vector<float>(15, 0.1f)};
  ExpectRejected(maxout, absl::StatusCode::kInvalidArgument,
                 {"weight", "[5, 3]"});
  maxout.weights["weight"] = {{4, 2}, std::vector<float>(8, 0.1f)};
  ExpectRejected(maxout, absl::StatusCode::kInvalidArgument,
                 {"weight", "[4, 2]"});
  maxout.weights["weight"] = {{4, 3}, std::vector<float>(12, 0.1f)};
  maxout.weights["bias"] = {{3}, {0, 0, 0}};
  ExpectRejected(maxout, absl::StatusCode::kInvalidArgument, {"bias", "[3]"});
}

TEST(Validation, WeightsThatDoNotBelong) {
  Request<float> relu = Simple("relu");
  relu.weights["alpha"] = {{}, {0.1f}};
  ExpectRejected(relu, absl::StatusCode::kInvalidArgument, {"alpha"});
  Request<float> prelu = Simple("prelu");
  prelu.weights["slope"] = {{}, {0.1f}};
  ExpectRejected(prelu, absl::StatusCode::kInvalidArgument, {"slope"});
  Request<float> maxout = Simple("maxout");
  maxout.weights["bias"] = {{2}, {0, 0}};
  ExpectRejected(maxout, absl::StatusCode::kInvalidArgument, {"bias"});
  // The affine form works on the last axis only.
  Request<float> axis = With(Simple("maxout"), "axis", 0.0);
  axis.weights["weight"] = {{4, 3}, std::vector<float>(12, 0.1f)};
  ExpectRejected(axis, absl::StatusCode::kInvalidArgument, {"axis"});
}

TEST(Validation, MaxoutSizeNotDivisibleByPieces) {
  ExpectRejected(Simple("maxout", {2, 5}), absl::StatusCode::kInvalidArgument,
                 {"pieces", "5"});
  ExpectRejected(With(Simple("maxout", {2, 6}), "pieces", 4.0),
                 absl::StatusCode::kInvalidArgument, {"pieces", "6"});
  ExpectRejected(With(Simple("maxout", {3, 4}), "axis", 0.0),
                 absl::StatusCode::kInvalidArgument, {"pieces", "3"});
}

TEST(Validation, DiceInferenceNeedsRunningStatistics) {
  Request<float> dice = With(Simple("dice"), "training", false);
  ExpectRejected(dice, absl::StatusCode::kInvalidArgument, {"running_mean"});
  dice.weights["running_mean"] = {{3}, {0, 0, 0}};
  ExpectRejected(dice, absl::StatusCode::kInvalidArgument, {"running_var"});
  dice.weights["running_var"] = {{3}, {1, -1, 1}};
  ExpectRejected(dice, absl::StatusCode::kInvalidArgument,
                 {"running_var", "-1"});
  dice.weights["running_var"] = {{3}, {1, 1, 1}};
  EXPECT_TRUE(Forward(dice).ok());
}

TEST(Validation, GradOutputAndOutputShapes) {
  Request<float> sigmoid = Simple("sigmoid");
  sigmoid.grad_output = Tensor<float>{{3, 2}, std::vector<float>(6, 1)};
  ExpectRejected(sigmoid, absl::StatusCode::kInvalidArgument,
                 {"grad_output", "[3, 2]"}, /*backward_only=*/true);
  sigmoid.grad_output.reset();
  sigmoid.output = Tensor<float>{{5}, std::vector<float>(5, 0.5f)};
  ExpectRejected(sigmoid, absl::StatusCode::kInvalidArgument, {"output", "[5]"},
                 /*backward_only=*/true);
  // Maxout's grad_output has the output's shape, not the input's.
  Request<float> maxout = Simple("maxout", {2, 4});
  maxout.grad_output = Tensor<float>{{2, 4}, std::vector<float>(8, 1)};
  ExpectRejected(maxout, absl::StatusCode::kInvalidArgument,
                 {"grad_output", "[2, 4]"}, /*backward_only=*/true);
  maxout.grad_output = Tensor<float>{{2, 2}, std::vector<float>(4, 1)};
  EXPECT_TRUE(Backward(maxout).ok());
}

// Mixed dtypes need raw views: a float64 tensor beside a float32 input.
TEST(Validation, DtypeMismatches) {
  const std::vector<float> x(6, 0.5f);
  const std::vector<double> d(6, 1.0), alpha = {0.1, 0.2, 0.3};
  ActivationRequest req;
  req.input = ConstTensorView{DType::kFloat32, x.data(), {2, 3}};
  BufferSink sink;

  req.name = "sigmoid";
  ConstTensorView dy{DType::kFloat64, d.data(), {2, 3}};
  req.grad_output = &dy;
  absl::Status s = RunBackward(req, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("grad_output"), std::string::npos) << s;
  EXPECT_NE(s.message().find("float64"), std::string::npos) << s;

  req.grad_output = nullptr;
  req.output = &dy;
  s = RunBackward(req, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("output"), std::string::npos) << s;

  req.output = nullptr;
  req.name = "prelu";
  req.weights["alpha"] = ConstTensorView{DType::kFloat64, alpha.data(), {3}};
  s = RunForward(req, sink);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("alpha"), std::string::npos) << s;
  EXPECT_NE(s.message().find("float64"), std::string::npos) << s;
}

// The instruction sets the element-wise tests iterate over: the baseline
// always, each once, narrowest first; "auto" picks the widest; an unknown
// name is INVALID_ARGUMENT naming it.
TEST(Validation, InstructionSetSelection) {
  const std::vector<std::string> isas = SupportedIsas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), "baseline");
  for (size_t i = 0; i < isas.size(); ++i) {
    for (size_t j = i + 1; j < isas.size(); ++j) EXPECT_NE(isas[i], isas[j]);
    ASSERT_TRUE(SelectIsa(isas[i]).ok()) << isas[i];
    EXPECT_EQ(std::string(Kernels().isa), isas[i]);
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
  EXPECT_EQ(std::string(Kernels().isa), isas.back());
  for (const char* known : {"avx2", "avx512"}) {
    if (std::find(isas.begin(), isas.end(), known) != isas.end()) continue;
    const absl::Status missing = SelectIsa(known);
    EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument) << missing;
    EXPECT_NE(missing.message().find(known), std::string::npos) << missing;
  }
  const absl::Status s = SelectIsa("sse9");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("sse9"), std::string::npos) << s;
  EXPECT_EQ(std::string(Kernels().isa), isas.back()) << "a failed select "
                                                        "changes nothing";
}

// No parameter map at all means every default.
TEST(Validation, NullParamsMeanDefaults) {
  const std::vector<double> x = {-1.0};
  ActivationRequest req;
  req.name = "elu";
  req.input = ConstTensorView{DType::kFloat64, x.data(), {1}};
  BufferSink sink;
  ASSERT_TRUE(RunForward(req, sink).ok());
  EXPECT_DOUBLE_EQ(sink.Find("output")->at(0), std::expm1(-1.0));
}

// leaky_relu's alpha is also accepted as PyTorch's negative_slope: same
// result, range-checked under the name given, and never both at once.
TEST(Validation, NegativeSlopeIsLeakyReluAlpha) {
  Request<float> r = Simple("leaky_relu", {4});
  r.input.values = {-2, -0.5f, 0, 3};
  absl::StatusOr<Results<float>> by_alias =
      Forward(With(r, "negative_slope", 0.2));
  absl::StatusOr<Results<float>> by_name = Forward(With(r, "alpha", 0.2));
  ASSERT_TRUE(by_alias.ok()) << by_alias.status();
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ((*by_alias)["output"], (std::vector<float>{-0.4f, -0.1f, 0, 3}));
  EXPECT_EQ((*by_alias)["output"], (*by_name)["output"]);
  ExpectRejected(With(r, "negative_slope", 1.5),
                 absl::StatusCode::kInvalidArgument,
                 {"params[\"negative_slope\"]", "1.5", "[0, 1]"});
  ExpectRejected(With(With(r, "alpha", 0.1), "negative_slope", 0.2),
                 absl::StatusCode::kInvalidArgument,
                 {"negative_slope", "alpha", "also given"});
  ExpectRejected(With(Simple("elu"), "negative_slope", 0.2),
                 absl::StatusCode::kInvalidArgument, {"negative_slope"});
}

// silu is swish with beta fixed at 1: the same bits, and no beta to set.
TEST(Validation, SiluIsSwishWithBetaOne) {
  Request<double> r;
  r.name = "silu";
  r.input = {{5}, {-3, -0.25, 0, 0.75, 4}};
  absl::StatusOr<Results<double>> silu = Forward(r);
  r.name = "swish";
  absl::StatusOr<Results<double>> swish = Forward(r);
  ASSERT_TRUE(silu.ok()) << silu.status();
  ASSERT_TRUE(swish.ok()) << swish.status();
  EXPECT_EQ((*silu)["output"], (*swish)["output"]);
  ExpectRejected(With(Simple("silu"), "beta", 2.0),
                 absl::StatusCode::kInvalidArgument, {"beta", "silu"});
}

}  // namespace
}  // namespace actd::testing
