// The element-wise activations (and PReLU with its default shared slope)
// against the long double references of reference.cc, through RunForward and
// RunBackward, on every instruction set this CPU and build support: forward and
// backward accuracy for float32 and float64 within the spec's bounds over the
// whole range (random normals and the spec's edge list), the NaN and infinity
// policy, the learnable scalars' gradients, the from-output backward, and
// central finite differences on the float64 path.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/core/kernel_table.h"
#include "tests/core/harness.h"
#include "tests/core/reference.h"

namespace actd::testing {
namespace {

// Runs the body once per instruction set (baseline, AVX2, AVX-512 as
// available), then restores the automatic choice.
template <typename Body>
void ForEachIsa(Body&& body) {
  for (const std::string& isa : SupportedIsas()) {
    ASSERT_TRUE(SelectIsa(isa).ok()) << isa;
    SCOPED_TRACE("isa " + isa);
    body(isa);
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
}

class ElementwiseTest : public ::testing::TestWithParam<int> {
 protected:
  const Reference& ref() const { return ElementwiseReferences()[GetParam()]; }
  template <typename T>
  Request<T> MakeRequest(const std::vector<T>& x) const {
    Request<T> r;
    r.name = ref().name;
    r.params = ref().params;
    r.input = {{static_cast<int64_t>(x.size())}, x};
    return r;
  }
};

// The bound at x = ±inf: limits the spec names (0, ±1, ±inf) must be exact;
// others (SELU's -λα, a leaky slope) only rounded within the usual bound.
bool ExactLimit(Ld v) { return v == 0 || std::fabs(v) == 1 || std::isinf(v); }
template <typename T>
Ld ForwardLimitBound(Ld limit) {
  return ExactLimit(limit) ? 0 : ForwardBound<T>(0, limit, 0);
}
template <typename T>
Ld BackwardLimitBound(Ld dy, Ld dlimit) {
  return ExactLimit(dlimit) ? 0 : BackwardBound<T>(0, dy, dlimit, 0);
}

// The same, for the rows with a learnable scalar, with a from-output backward,
// and without one.
class LearnableTest : public ElementwiseTest {};
class FromOutputTest : public ElementwiseTest {};
class NoFromOutputTest : public ElementwiseTest {};

bool HasFromOutput(const Reference& r) {
  return FindActivation(r.name)->info().backward_from_output;
}

// Indices of the references that satisfy `keep`.
template <typename Keep>
std::vector<int> RefsWhere(Keep keep) {
  std::vector<int> indices;
  const std::vector<Reference>& refs = ElementwiseReferences();
  for (int i = 0; i < static_cast<int>(refs.size()); ++i) {
    if (keep(refs[i])) indices.push_back(i);
  }
  return indices;
}

template <typename T>
void CheckForward(const Reference& ref, const std::string& isa,
                  const Request<T>& req) {
  absl::StatusOr<Results<T>> out = Forward(req);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->has("output"));
  ASSERT_EQ(out->shape("output"), req.input.shape);
  const std::vector<T>& y = (*out)["output"];
  const std::vector<T>& x = req.input.values;
  Mismatches bad(ref.label + " " + TypeName<T>() + " forward [" + isa + "]");
  for (size_t i = 0; i < x.size(); ++i) {
    const Ld xi = x[i];
    const Ld bound = std::isfinite(xi)
                         ? ForwardBound<T>(xi, ref.f(xi), ref.df(xi))
                         : ForwardLimitBound<T>(ref.F(xi));
    bad.Check("i=" + std::to_string(i), xi, y[i], ref.F(xi), bound);
  }
}

template <typename T>
void CheckBackward(const Reference& ref, const std::string& isa, Request<T> req,
                   bool with_grad_output) {
  const std::vector<T>& x = req.input.values;
  std::vector<T> dy(x.size(), T(1));
  if (with_grad_output) {
    dy = RandomGrads<T>(7, x.size());
    req.grad_output = Tensor<T>{req.input.shape, dy};
  }
  absl::StatusOr<Results<T>> out = Backward(req);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->has("grad_input"));
  ASSERT_EQ(out->shape("grad_input"), req.input.shape);
  const std::vector<T>& dx = (*out)["grad_input"];
  Mismatches bad(ref.label + " " + TypeName<T>() + " backward" +
                 (with_grad_output ? "" : " (no grad_output)") + " [" + isa +
                 "]");
  for (size_t i = 0; i < x.size(); ++i) {
    const Ld xi = x[i], g = dy[i];
    const Ld bound = std::isfinite(xi)
                         ? BackwardBound<T>(xi, g, ref.df(xi), ref.d2f(xi))
                         : BackwardLimitBound<T>(g, ref.DF(xi));
    bad.Check("i=" + std::to_string(i) + " dy=" + Num(g), xi, dx[i],
              g * ref.DF(xi), bound);
  }
}

// The activations with suites of their own (maxout_test.cc, dice_test.cc,
// gated_test.cc); every other row of the registry is element-wise and needs an
// entry in ElementwiseReferences().
const std::set<std::string>& OwnSuites() {
  static const auto* names = new std::set<std::string>{
      "maxout", "dice", "glu", "swiglu", "geglu", "reglu"};
  return *names;
}

TEST(References, EveryActivationHasOne) {
  for (const Activation* a : AllActivations()) {
    const std::string& name = a->info().name;
    if (OwnSuites().count(name) > 0) continue;
    const std::vector<int> refs =
        RefsWhere([&](const Reference& r) { return r.name == name; });
    EXPECT_FALSE(refs.empty())
        << "no reference entry for \"" << name
        << "\" in ElementwiseReferences() (tests/core/reference.cc)";
    EXPECT_TRUE(a->info().elementwise) << name;
  }
}

TEST_P(ElementwiseTest, Float32ForwardWithinSpecBound) {
  ForEachIsa([&](const std::string& isa) {
    CheckForward(ref(), isa, MakeRequest(AccuracyInputs<float>(1)));
  });
}

TEST_P(ElementwiseTest, Float64ForwardWithinSpecBound) {
  ForEachIsa([&](const std::string& isa) {
    CheckForward(ref(), isa, MakeRequest(AccuracyInputs<double>(2)));
  });
}

TEST_P(ElementwiseTest, Float32BackwardWithinSpecBound) {
  ForEachIsa([&](const std::string& isa) {
    CheckBackward(ref(), isa, MakeRequest(AccuracyInputs<float>(3)), true);
  });
}

TEST_P(ElementwiseTest, Float64BackwardWithinSpecBound) {
  ForEachIsa([&](const std::string& isa) {
    CheckBackward(ref(), isa, MakeRequest(AccuracyInputs<double>(4)), true);
  });
}

// A missing grad_output means ones.
TEST_P(ElementwiseTest, BackwardWithoutGradOutputUsesOnes) {
  ForEachIsa([&](const std::string& isa) {
    CheckBackward(ref(), isa, MakeRequest(AccuracyInputs<float>(5)), false);
    CheckBackward(ref(), isa, MakeRequest(AccuracyInputs<double>(6)), false);
  });
}

// NaN in one element makes that element's y and dx NaN and leaves its packet
// neighbours alone; this holds at every lane position.
TEST_P(ElementwiseTest, NanStaysInItsElement) {
  ForEachIsa([&](const std::string&) {
    for (int pos = 0; pos < 17; ++pos) {
      std::vector<double> x = {0.5,  -1.5, 2.0, -0.25, 3.0,  -3.0,
                               1e-3, 0.75, 4.0, -4.0,  1.25, -0.5,
                               6.0,  -7.0, 0.1, -0.1,  2.5};
      x[pos] = std::numeric_limits<double>::quiet_NaN();
      std::vector<float> xf(x.begin(), x.end());
      absl::StatusOr<Results<double>> y64 = Forward(MakeRequest(x));
      absl::StatusOr<Results<double>> dx64 = Backward(MakeRequest(x));
      absl::StatusOr<Results<float>> y32 = Forward(MakeRequest(xf));
      absl::StatusOr<Results<float>> dx32 = Backward(MakeRequest(xf));
      ASSERT_TRUE(y64.ok() && dx64.ok() && y32.ok() && dx32.ok());
      for (int i = 0; i < 17; ++i) {
        const bool nan = i == pos;
        EXPECT_EQ(std::isnan((*y64)["output"][i]), nan) << "i=" << i;
        EXPECT_EQ(std::isnan((*dx64)["grad_input"][i]), nan) << "i=" << i;
        EXPECT_EQ(std::isnan((*y32)["output"][i]), nan) << "i=" << i;
        EXPECT_EQ(std::isnan((*dx32)["grad_input"][i]), nan) << "i=" << i;
      }
    }
  });
}

// The spec's infinity policy, spelled out: y and dy/dx at ±inf are the
// mathematical limits (never NaN from inf·0), in both dtypes.
TEST_P(ElementwiseTest, InfinitiesGiveTheLimits) {
  ForEachIsa([&](const std::string&) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> x = {-inf, inf, 1.0, -inf, inf};
    std::vector<float> xf(x.begin(), x.end());
    absl::StatusOr<Results<double>> y64 = Forward(MakeRequest(x));
    absl::StatusOr<Results<double>> dx64 = Backward(MakeRequest(x));
    absl::StatusOr<Results<float>> y32 = Forward(MakeRequest(xf));
    absl::StatusOr<Results<float>> dx32 = Backward(MakeRequest(xf));
    ASSERT_TRUE(y64.ok() && dx64.ok() && y32.ok() && dx32.ok());
    Mismatches bad(ref().label + " at infinities");
    for (int i : {0, 1, 3, 4}) {
      const Ld limit = ref().F(x[i]), dlimit = ref().DF(x[i]);
      bad.Check("float64 f", x[i], (*y64)["output"][i], limit,
                ForwardLimitBound<double>(limit));
      bad.Check("float32 f", x[i], (*y32)["output"][i], limit,
                ForwardLimitBound<float>(limit));
      bad.Check("float64 f'", x[i], (*dx64)["grad_input"][i], dlimit,
                BackwardLimitBound<double>(1, dlimit));
      bad.Check("float32 f'", x[i], (*dx32)["grad_input"][i], dlimit,
                BackwardLimitBound<float>(1, dlimit));
    }
  });
}

// A forward result that rounds to zero is the zero of the exact value's sign:
// tanh(±0) = ±0, and x·σ(x), x·Φ(x) or x·tanh(softplus(x)) underflowing for
// large negative x is -0, as IEEE rounding of the negative exact value gives.
// Not checked: the infinities (docs/SPEC.md allows -0 or 0 there) and ±0 for
// the piecewise activations (which piece owns a signed zero is a convention).
// With `derivative`, the same for dx with dy = 1 (GELU's, Swish's and Mish's
// derivatives are tiny negatives there too, e^x·(1 + x) and the like), only
// where the long double reference is itself nonzero (it underflows too beyond
// about -1e4 for Swish, -150 for GELU).
template <typename T>
void CheckZeroSigns(const Reference& ref, const std::vector<T>& x,
                    const std::vector<T>& y, bool derivative = false) {
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] == 0 && (ref.piecewise || ref.kink_at_zero)) continue;
    const Ld want = derivative ? ref.DF(x[i]) : ref.F(x[i]);
    // Half the smallest subnormal: below it, the value rounds to zero.
    const Ld tiny = static_cast<Ld>(std::numeric_limits<T>::denorm_min()) / 2;
    if (std::isnan(want) || (derivative && want == 0) ||
        std::fabs(want) > tiny) {
      continue;
    }
    EXPECT_EQ(std::signbit(y[i]), std::signbit(want))
        << ref.label << " " << TypeName<T>() << (derivative ? " dx" : " y")
        << " at x=" << x[i] << ": " << y[i];
  }
}

TEST_P(ElementwiseTest, ZerosHaveTheSignOfTheExactValue) {
  ForEachIsa([&](const std::string&) {
    std::vector<double> x = {0.0,    -0.0,    -20.0,  -40.0,  -120.0,
                             -200.0, -800.0,  -1e4,   -1e30,  -1e300,
                             1e-300, -1e-300, 4e-324, -4e-324};
    std::vector<float> xf(x.begin(), x.end());
    absl::StatusOr<Results<double>> y64 = Forward(MakeRequest(x));
    absl::StatusOr<Results<float>> y32 = Forward(MakeRequest(xf));
    ASSERT_TRUE(y64.ok() && y32.ok());
    CheckZeroSigns(ref(), x, (*y64)["output"]);
    CheckZeroSigns(ref(), xf, (*y32)["output"]);
  });
}

TEST_P(ElementwiseTest, DerivativeZerosHaveTheSignOfTheExactValue) {
  ForEachIsa([&](const std::string&) {
    const std::vector<double> x = {-20.0, -40.0, -120.0, -200.0, -800.0,
                                   -1e4,  -30.0, -60.0,  -110.0, -150.0};
    const std::vector<float> xf(x.begin(), x.end());
    absl::StatusOr<Results<double>> dx64 = Backward(MakeRequest(x));
    absl::StatusOr<Results<float>> dx32 = Backward(MakeRequest(xf));
    ASSERT_TRUE(dx64.ok() && dx32.ok());
    CheckZeroSigns(ref(), x, (*dx64)["grad_input"], /*derivative=*/true);
    CheckZeroSigns(ref(), xf, (*dx32)["grad_input"], /*derivative=*/true);
  });
}

template <typename T>
void CheckParameterGradient(const Reference& ref, const std::string& isa,
                            Request<T> req) {
  if (!ref.learnable.empty()) {
    // A sum beyond the dtype's range has no answer to check (Swish with
    // beta = 0 has terms x²/4): keep the elements whose term is representable
    // with room to spare.
    std::vector<T>& v = req.input.values;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](T x) {
                             return std::fabs(ref.dparam(x)) >
                                    std::sqrt(std::numeric_limits<T>::max());
                           }),
            v.end());
    req.input.shape = {static_cast<int64_t>(v.size())};
  }
  const std::vector<T>& x = req.input.values;
  const std::vector<T> dy = RandomGrads<T>(11, x.size());
  req.grad_output = Tensor<T>{req.input.shape, dy};
  absl::StatusOr<Results<T>> out = Backward(req);
  ASSERT_TRUE(out.ok()) << out.status();
  if (ref.learnable.empty()) {
    EXPECT_EQ(out->tensors.size(), 1u) << "only grad_input expected";
    return;
  }
  ASSERT_TRUE(out->has(ref.learnable)) << ref.learnable;
  ASSERT_EQ(out->shape(ref.learnable), Shape{}) << "a 0-d tensor";
  Ld want = 0, magnitude = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const Ld term = static_cast<Ld>(dy[i]) * ref.dparam(x[i]);
    want += term;
    magnitude += std::fabs(term);
  }
  Mismatches bad(ref.label + " " + TypeName<T>() + " d" + ref.learnable + " [" +
                 isa + "], sum|terms|=" + Num(magnitude));
  bad.Check("sum", 0, (*out)[ref.learnable][0], want,
            Tolerance<T>::kSum * magnitude);
}

// dL/dalpha (ELU, PReLU) and dL/dbeta (Swish), summed over every element,
// relative to Σ|terms|; every finite edge value included (x² overflowing
// float32 must still contribute its 0).
TEST_P(ElementwiseTest, ParameterGradientWithinSpecBound) {
  ForEachIsa([&](const std::string& isa) {
    CheckParameterGradient(ref(), isa,
                           MakeRequest(Finite(AccuracyInputs<float>(12))));
    CheckParameterGradient(ref(), isa,
                           MakeRequest(Finite(AccuracyInputs<double>(13))));
  });
}

// The registry's backward_from_output flag is exactly the set with a y -> f'
// form.
TEST_P(ElementwiseTest, BackwardFromOutputFlagMatchesTheFunction) {
  const ActivationInfo& info = FindActivation(ref().name)->info();
  EXPECT_EQ(info.backward_from_output, ref().df_from_y != nullptr);
}

// Backward given y (from Forward) agrees with the derivative expressed in y,
// within the spec's backward bound using that form's own condition number
// |y·g'(y)/g(y)| (y·(1-y) cannot resolve σ' where y rounds to 1); and the
// learnable scalar's gradient is unchanged.
template <typename T>
void CheckFromOutput(const Reference& ref, const std::string& isa,
                     Request<T> req) {
  absl::StatusOr<Results<T>> fwd = Forward(req);
  ASSERT_TRUE(fwd.ok()) << fwd.status();
  const std::vector<T>& x = req.input.values;
  const std::vector<T> dy = RandomGrads<T>(17, x.size());
  req.grad_output = Tensor<T>{req.input.shape, dy};
  absl::StatusOr<Results<T>> from_x = Backward(req);
  req.output = Tensor<T>{req.input.shape, (*fwd)["output"]};
  absl::StatusOr<Results<T>> from_y = Backward(req);
  ASSERT_TRUE(from_x.ok() && from_y.ok());
  const std::vector<T>& y = (*fwd)["output"];
  const std::vector<T>& dx = (*from_y)["grad_input"];
  Mismatches bad(ref.label + " " + TypeName<T>() + " backward from output [" +
                 isa + "]");
  for (size_t i = 0; i < x.size(); ++i) {
    const Ld yi = y[i], g = dy[i];
    if (std::isnan(x[i])) {
      bad.Check("NaN x", x[i], dx[i], x[i], 0);
      continue;
    }
    const Ld want =
        std::isfinite(yi) ? g * ref.df_from_y(yi) : g * ref.DF(x[i]);
    // y = ±inf (x infinite, or SELU overflowing float32 at FLT_MAX): the
    // derivative's limit.
    const Ld bound =
        std::isfinite(yi)
            ? BackwardBound<T>(yi, g, ref.df_from_y(yi), ref.d2f_from_y(yi))
            : BackwardLimitBound<T>(g, ref.DF(x[i]));
    bad.Check("i=" + std::to_string(i) + " y=" + Num(yi), x[i], dx[i], want,
              bound);
  }
  if (!ref.learnable.empty()) {
    ASSERT_TRUE(from_y->has(ref.learnable));
    Ld want = 0, magnitude = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      want += static_cast<Ld>(dy[i]) * ref.dparam(x[i]);
      magnitude += std::fabs(static_cast<Ld>(dy[i]) * ref.dparam(x[i]));
    }
    Mismatches bad_sum(ref.label + " " + TypeName<T>() + " d" + ref.learnable +
                       " from output [" + isa + "]");
    bad_sum.Check("sum", 0, (*from_y)[ref.learnable][0], want,
                  Tolerance<T>::kSum * magnitude);
  }
}

TEST_P(FromOutputTest, BackwardFromOutputAgrees) {
  ForEachIsa([&](const std::string& isa) {
    // Finite inputs: the learnable sums must be finite; infinities are
    // checked without y below.
    CheckFromOutput(ref(), isa, MakeRequest(Finite(AccuracyInputs<float>(8))));
    CheckFromOutput(ref(), isa, MakeRequest(Finite(AccuracyInputs<double>(9))));
  });
}

// Central differences of the float64 forward against the float64 backward.
//
// Stencil: the fourth-order f'(x) ≈ [f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)] /
// (12h) with h = 1e-3·max(1, |x|). Truncation error is h⁴·|f⁽⁵⁾|/30; every
// function here has |f⁽⁵⁾| ≤ 20·max(1, |x|)^-4 on the points used (x within
// ±8, away from kinks), so it stays below 1e-12·20/30 ≈ 7e-13. Rounding: each
// f value is within the spec's 1e-14·|f|·max(1, κ/8) of exact, and the stencil
// weights sum to 18/12 per h, so its error is ≤ 1.5e-14·M·max(1, κ/8)/h with
// M the largest |f| on the stencil; κ ≤ 8·16 on these points, so ≤ 2e-10·M.
// The tolerance 1e-8·(1 + M + |f'|) covers both with a factor of 10 margin.
TEST_P(ElementwiseTest, BackwardMatchesFiniteDifferences) {
  std::vector<double> points = RandomNormals<double>(21, 40);
  points.erase(std::remove_if(points.begin(), points.end(),
                              [](double x) { return std::fabs(x) > 8; }),
               points.end());
  for (double x = -8; x <= 8; x += 0.37) points.push_back(x);
  if (ref().piecewise) {
    // Keep every stencil on one side of 0 and of every listed kink.
    std::vector<double> kinks =
        FindActivation(ref().name)->info().properties.kinks;
    kinks.push_back(0);
    points.erase(std::remove_if(points.begin(), points.end(),
                                [&](double x) {
                                  for (double k : kinks) {
                                    if (std::fabs(x - k) <
                                        3e-3 * std::max(1.0, std::fabs(x))) {
                                      return true;
                                    }
                                  }
                                  return false;
                                }),
                 points.end());
  }
  std::vector<double> stencil;
  for (double x : points) {
    const double h = 1e-3 * std::max(1.0, std::fabs(x));
    for (double k : {-2.0, -1.0, 1.0, 2.0}) stencil.push_back(x + k * h);
  }
  ForEachIsa([&](const std::string& isa) {
    absl::StatusOr<Results<double>> f = Forward(MakeRequest(stencil));
    absl::StatusOr<Results<double>> df = Backward(MakeRequest(points));
    ASSERT_TRUE(f.ok() && df.ok());
    const std::vector<double>& y = (*f)["output"];
    Mismatches bad(ref().label + " finite differences [" + isa + "]");
    for (size_t i = 0; i < points.size(); ++i) {
      const double x = points[i];
      const double h = 1e-3 * std::max(1.0, std::fabs(x));
      const double* s = &y[4 * i];
      const double fd = (s[0] - 8 * s[1] + 8 * s[2] - s[3]) / (12 * h);
      const double m = std::max(
          {std::fabs(s[0]), std::fabs(s[1]), std::fabs(s[2]), std::fabs(s[3])});
      const double got = (*df)["grad_input"][i];
      bad.Check("fd", x, got, fd, 1e-8 * (1 + m + std::fabs(got)));
    }
  });
}

// The learnable scalar's gradient against central differences of
// L(p) = Σ dy·f(x; p) in p, float64. Same fourth-order stencil with h = 1e-3;
// L is smooth (polynomial of degree 1 in alpha; analytic in beta with
// |∂⁵L/∂β⁵| ≤ Σ|dy|·|x|⁵·c on |x| ≤ 3), and the rounding of each L is
// ≤ 1e-14·Σ|dy·f| so the stencil's is ≤ 1.5e-11·Σ|dy·f|; the tolerance
// 1e-8·(Σ|dy·f| + |grad|) covers both.
TEST_P(LearnableTest, ParameterGradientMatchesFiniteDifferences) {
  std::vector<double> x = RandomNormals<double>(31, 20);
  x.erase(std::remove_if(x.begin(), x.end(),
                         [](double v) { return std::fabs(v) > 3; }),
          x.end());
  const std::vector<double> dy = RandomGrads<double>(32, x.size());
  // The parameter's value: a number param, or PReLU's weight.
  const bool is_weight = ref().name == "prelu";
  double p0 = is_weight ? 0.25 : 1.0;
  if (!is_weight) {
    auto it = ref().params.find(ref().learnable);
    if (it != ref().params.end()) p0 = std::get<double>(it->second);
  }
  auto loss = [&](double p) -> double {
    Request<double> r = MakeRequest(x);
    if (is_weight) {
      r.weights["alpha"] = {{}, {p}};
    } else {
      r.params[ref().learnable] = ParamValue(p);
    }
    absl::StatusOr<Results<double>> out = Forward(r);
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return 0;
    double l = 0;
    for (size_t i = 0; i < x.size(); ++i) l += dy[i] * (*out)["output"][i];
    return l;
  };
  ForEachIsa([&](const std::string& isa) {
    const double h = 1e-3;
    // ELU's alpha must stay in [0, 1e3]: a one-sided stencil at alpha = 0 (L
    // is linear in alpha, so the forward difference is exact up to rounding).
    const double fd = p0 - 2 * h < 0 && ref().learnable == "alpha"
                          ? (loss(p0 + h) - loss(p0)) / h
                          : (loss(p0 - 2 * h) - 8 * loss(p0 - h) +
                             8 * loss(p0 + h) - loss(p0 + 2 * h)) /
                                (12 * h);
    Request<double> r = MakeRequest(x);
    r.grad_output = Tensor<double>{r.input.shape, dy};
    absl::StatusOr<Results<double>> out = Backward(r);
    ASSERT_TRUE(out.ok()) << out.status();
    absl::StatusOr<Results<double>> y = Forward(MakeRequest(x));
    ASSERT_TRUE(y.ok());
    double scale = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      scale += std::fabs(dy[i] * (*y)["output"][i]);
    }
    const double got = (*out)[ref().learnable][0];
    Mismatches bad(ref().label + " d" + ref().learnable +
                   " finite differences [" + isa + "]");
    bad.Check("p=" + Num(p0), p0, got, fd, 1e-8 * (scale + std::fabs(got)));
  });
}

// Rows without a from-output form ignore a given `output`.
TEST_P(NoFromOutputTest, BackwardIgnoresOutputWithoutFromOutputForm) {
  Request<double> r = MakeRequest(Finite(AccuracyInputs<double>(18)));
  r.grad_output = Tensor<double>{
      r.input.shape, RandomGrads<double>(19, r.input.values.size())};
  absl::StatusOr<Results<double>> y = Forward(r);
  absl::StatusOr<Results<double>> plain = Backward(r);
  ASSERT_TRUE(y.ok() && plain.ok());
  r.output = Tensor<double>{r.input.shape, (*y)["output"]};
  absl::StatusOr<Results<double>> with_y = Backward(r);
  ASSERT_TRUE(with_y.ok()) << with_y.status();
  for (const auto& [name, t] : plain->tensors) {
    ASSERT_TRUE(with_y->has(name)) << name;
    const std::vector<double>& other = (*with_y)[name];
    ASSERT_EQ(other.size(), t.values.size());
    // Bitwise: a NaN (beta's sum when x² overflows) must stay NaN.
    EXPECT_EQ(std::memcmp(other.data(), t.values.data(),
                          other.size() * sizeof(double)),
              0)
        << name;
  }
}

// float32 parameter-gradient sums over a million elements stay within 1e-5
// of Σ|terms| (the accumulation order matters at this size).
TEST_P(LearnableTest, LargeFloat32ParameterSums) {
  ForEachIsa([&](const std::string& isa) {
    std::vector<float> x = RandomNormals<float>(23, 1 << 17);
    CheckParameterGradient(ref(), isa, MakeRequest(x));
  });
}

std::string RefName(const ::testing::TestParamInfo<int>& info) {
  std::string s = ElementwiseReferences()[info.param].label;
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  while (!s.empty() && s.back() == '_') s.pop_back();
  return s;
}

// float64 GELU's Φ is one degree-20 polynomial fitted over |x| ≤ 38.9
// (packet_math.h's NormalDouble): every 1/128 over ±40, offset from the grid
// of the random inputs, forward and backward within the spec's bounds.
class GeluFloat64SweepTest : public ElementwiseTest {};
TEST_P(GeluFloat64SweepTest, DenseSweepWithinSpecBound) {
  std::vector<double> x;
  for (int i = -40 * 128; i <= 40 * 128; ++i) x.push_back((i + 0.37) / 128);
  ForEachIsa([&](const std::string& isa) {
    CheckForward(ref(), isa, MakeRequest(x));
    CheckBackward(ref(), isa, MakeRequest(x), true);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Activations, ElementwiseTest,
    ::testing::Range(0, static_cast<int>(ElementwiseReferences().size())),
    RefName);
INSTANTIATE_TEST_SUITE_P(Activations, LearnableTest,
                         ::testing::ValuesIn(RefsWhere([](const Reference& r) {
                           return !r.learnable.empty();
                         })),
                         RefName);
INSTANTIATE_TEST_SUITE_P(Activations, FromOutputTest,
                         ::testing::ValuesIn(RefsWhere([](const Reference& r) {
                           return HasFromOutput(r) && r.df_from_y != nullptr;
                         })),
                         RefName);
INSTANTIATE_TEST_SUITE_P(Activations, GeluFloat64SweepTest,
                         ::testing::ValuesIn(RefsWhere([](const Reference& r) {
                           return r.name == "gelu" &&
                                  r.label.find("tanh") == std::string::npos &&
                                  r.label.find("sigmoid") == std::string::npos;
                         })),
                         RefName);
INSTANTIATE_TEST_SUITE_P(Activations, NoFromOutputTest,
                         ::testing::ValuesIn(RefsWhere([](const Reference& r) {
                           return !HasFromOutput(r);
                         })),
                         RefName);

}  // namespace
}  // namespace actd::testing
