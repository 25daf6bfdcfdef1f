// The gated units (glu, swiglu, geglu, reglu) against long double references
// built from the element-wise references of their gates, on every instruction
// set: forward and backward accuracy for float32 and float64 within the spec's
// bounds, along the last axis and an inner one, central finite differences on
// the float64 path, the NaN policy, the odd-length error, and the same bits
// for any thread count.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/core/kernel_table.h"
#include "tests/core/harness.h"
#include "tests/core/reference.h"

namespace actd::testing {
namespace {

// One gated unit: its registry name and parameters, and the element-wise
// reference of its gate g.
struct GatedReference {
  std::string label, name;
  ParamMap params;
  std::string gate;  // the label of g in ElementwiseReferences()
};

const std::vector<GatedReference>& GatedReferences() {
  static const auto* refs = new std::vector<GatedReference>{
      {"glu", "glu", {}, "sigmoid"},
      {"swiglu", "swiglu", {}, "swish"},
      {"swiglu(beta=1.5)",
       "swiglu",
       {{"beta", ParamValue(1.5)}},
       "swish(beta=1.5)"},
      {"geglu", "geglu", {}, "gelu"},
      {"reglu", "reglu", {}, "relu"},
  };
  return *refs;
}

const Reference& Gate(const GatedReference& g) {
  for (const Reference& r : ElementwiseReferences()) {
    if (r.label == g.gate) return r;
  }
  ADD_FAILURE() << "no element-wise reference " << g.gate;
  return ElementwiseReferences().front();
}

TEST(GatedReferences, EveryGatedActivationHasOne) {
  for (const Activation* a : AllActivations()) {
    if (!a->info().gated) continue;
    bool found = false;
    for (const GatedReference& g : GatedReferences())
      found |= g.name == a->info().name;
    EXPECT_TRUE(found) << "no entry for \"" << a->info().name
                       << "\" in GatedReferences() (tests/core/gated_test.cc)";
  }
}

template <typename T>
void RunForwardBackward(const GatedReference& g, const std::string& isa,
                        Shape shape, int axis, uint64_t seed) {
  const Reference& ref = Gate(g);
  const int64_t n = NumElements(shape);
  std::vector<T> x = RandomNormals<T>(seed, 1);
  x.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<T>(4 * std::sin(1.7 * i + seed));
  }
  Request<T> r;
  r.name = g.name;
  r.params = g.params;
  r.params["axis"] = ParamValue(static_cast<double>(axis));
  r.input = {shape, x};
  const int ax = axis < 0 ? axis + static_cast<int>(shape.size()) : axis;
  Shape out_shape = shape;
  out_shape[ax] /= 2;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= shape[i];
  for (size_t i = ax + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t half = shape[ax] / 2 * inner;
  std::vector<T> dy = RandomGrads<T>(seed + 1, outer * half);
  r.grad_output = Tensor<T>{out_shape, dy};
  absl::StatusOr<Results<T>> y = Forward(r);
  absl::StatusOr<Results<T>> dx = Backward(r);
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_TRUE(dx.ok()) << dx.status();
  ASSERT_EQ(y->shape("output"), out_shape);
  ASSERT_EQ(dx->shape("grad_input"), shape);
  const Ld eps = std::numeric_limits<T>::epsilon();
  Mismatches bad(g.label + " " + TypeName<T>() + " [" + isa + "]");
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < half; ++j) {
      const int64_t ia = o * 2 * half + j, ib = ia + half, iy = o * half + j;
      const Ld a = x[ia], b = x[ib], d = dy[iy];
      const Ld gb = ref.f(b), dg = ref.df(b);
      const Ld want_y = a * gb;
      bad.Check(
          "y", b, (*y)["output"][iy], want_y,
          std::fabs(a) * ForwardBound<T>(b, gb, dg) + eps * std::fabs(want_y));
      const Ld want_da = d * gb;
      bad.Check(
          "da", b, (*dx)["grad_input"][ia], want_da,
          std::fabs(d) * ForwardBound<T>(b, gb, dg) + eps * std::fabs(want_da));
      const Ld want_db = d * a * dg;
      bad.Check("db", b, (*dx)["grad_input"][ib], want_db,
                BackwardBound<T>(b, d * a, dg, ref.d2f(b)) +
                    eps * std::fabs(want_db));
    }
  }
}

class GatedTest : public ::testing::TestWithParam<int> {
 protected:
  const GatedReference& ref() const { return GatedReferences()[GetParam()]; }
};

TEST_P(GatedTest, WithinSpecBoundOnEveryIsa) {
  for (const std::string& isa : SupportedIsas()) {
    ASSERT_TRUE(SelectIsa(isa).ok());
    SCOPED_TRACE(isa);
    RunForwardBackward<float>(ref(), isa, {37, 2 * 45}, -1, 1);
    RunForwardBackward<double>(ref(), isa, {37, 2 * 45}, -1, 2);
    RunForwardBackward<float>(ref(), isa, {3, 4, 2 * 5, 7}, 2, 3);
    RunForwardBackward<double>(ref(), isa, {3, 2 * 3, 11}, -2, 4);
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
}

// Central differences of float64 sum(dy·y) in each input element.
TEST_P(GatedTest, BackwardMatchesFiniteDifferences) {
  Request<double> r;
  r.name = ref().name;
  r.params = ref().params;
  r.input = {{3, 8}, {}};
  for (int i = 0; i < 24; ++i)
    r.input.values.push_back(2.5 * std::cos(1.3 * i));
  const std::vector<double> dy = RandomGrads<double>(9, 12);
  r.grad_output = Tensor<double>{{3, 4}, dy};
  absl::StatusOr<Results<double>> dx = Backward(r);
  ASSERT_TRUE(dx.ok()) << dx.status();
  auto loss = [&](const std::vector<double>& x) {
    Request<double> q = r;
    q.input.values = x;
    absl::StatusOr<Results<double>> y = Forward(q);
    double s = 0;
    for (int i = 0; i < 12; ++i) s += dy[i] * (*y)["output"][i];
    return s;
  };
  for (int i = 0; i < 24; ++i) {
    const double x0 = r.input.values[i];
    if (ref().name == "reglu" && std::fabs(x0) < 1e-2) continue;  // kink
    const double h = 1e-3 * std::max(1.0, std::fabs(x0));
    std::vector<double> x = r.input.values;
    double f[4];
    int k = 0;
    for (double s : {-2.0, -1.0, 1.0, 2.0}) {
      x[i] = x0 + s * h;
      f[k++] = loss(x);
    }
    const double fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
    EXPECT_NEAR((*dx)["grad_input"][i], fd, 1e-7 * (1 + std::fabs(fd)))
        << ref().label << " x[" << i << "] = " << x0;
  }
}

// A NaN in a or in b makes y, da and db NaN for that pair.
TEST_P(GatedTest, NaNInEitherHalfGivesNaN) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Request<double> r;
  r.name = ref().name;
  r.params = ref().params;
  r.input = {{1, 6}, {nan, 0.5, 1.0, 0.25, nan, -2.0}};
  absl::StatusOr<Results<double>> y = Forward(r);
  absl::StatusOr<Results<double>> dx = Backward(r);
  ASSERT_TRUE(y.ok() && dx.ok());
  EXPECT_TRUE(std::isnan((*y)["output"][0]));
  EXPECT_TRUE(std::isnan((*y)["output"][1]));
  EXPECT_FALSE(std::isnan((*y)["output"][2]));
  for (int i : {0, 1, 3, 4}) {
    EXPECT_TRUE(std::isnan((*dx)["grad_input"][i])) << i;
  }
  EXPECT_FALSE(std::isnan((*dx)["grad_input"][2]));
  EXPECT_FALSE(std::isnan((*dx)["grad_input"][5]));
}

TEST_P(GatedTest, OddLengthIsRejectedNamingAxisAndLength) {
  Request<float> r;
  r.name = ref().name;
  r.input = {{2, 5}, std::vector<float>(10, 0.5f)};
  for (bool backward : {false, true}) {
    absl::StatusOr<Results<float>> out = actd::testing::Run(r, backward);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string m(out.status().message());
    EXPECT_NE(m.find("input.shape[1]"), std::string::npos) << m;
    EXPECT_NE(m.find("length 5"), std::string::npos) << m;
    EXPECT_NE(m.find("axis -1"), std::string::npos) << m;
  }
  r.params["axis"] = ParamValue(2.0);
  absl::StatusOr<Results<float>> out = actd::testing::Run(r, false);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("params[\"axis\"]"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Activations, GatedTest,
    ::testing::Range(0, static_cast<int>(GatedReferences().size())),
    [](const ::testing::TestParamInfo<int>& info) {
      std::string s = GatedReferences()[info.param].label;
      for (char& c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return s;
    });

}  // namespace
}  // namespace actd::testing
