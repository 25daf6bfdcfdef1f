// Every property an activation claims in info().properties, checked
// numerically with its default parameters on a dense grid through RunForward
// and RunBackward (float64): non-linearity, monotonicity (sign of the
// derivative and of forward differences), smoothness versus listed kinks,
// zero-centering, the output range (sound and, for the fixed element-wise
// functions, tight), saturation (derivative -> 0 in the limits) and
// self-normalization (moments of f(x) for x ~ N(0, 1) by quadrature). Also the
// learnable-parameter claims against what Backward returns. Dice is probed in
// inference with running mean 0 and variance 1 (an element-wise function);
// Maxout in the group form with k = 2.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "tests/core/harness.h"

namespace actd::testing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The activation as a scalar function of x, with default parameters.
class Probe {
 public:
  explicit Probe(std::string name) : name_(std::move(name)) {}
  std::vector<double> F(const std::vector<double>& x) const {
    return Run(x, false);
  }
  std::vector<double> DF(const std::vector<double>& x) const {
    return Run(x, true);
  }
  double F(double x) const { return F(std::vector<double>{x})[0]; }
  double DF(double x) const { return DF(std::vector<double>{x})[0]; }

 private:
  std::vector<double> Run(const std::vector<double>& x, bool backward) const {
    Request<double> r;
    r.name = name_;
    r.input = {{static_cast<int64_t>(x.size())}, x};
    if (name_ == "dice") {
      r.input.shape = {static_cast<int64_t>(x.size()), 1};
      r.params["training"] = ParamValue(false);
      r.weights["running_mean"] = {{1}, {0.0}};
      r.weights["running_var"] = {{1}, {1.0}};
    }
    // A gated unit as its gate: rows [a = 1, b = x], dy/db.
    const bool gated = FindActivation(name_)->info().gated;
    if (gated) {
      r.input.shape = {static_cast<int64_t>(x.size()), 2};
      r.input.values.clear();
      for (double v : x) r.input.values.insert(r.input.values.end(), {1.0, v});
    }
    absl::StatusOr<Results<double>> out = backward ? Backward(r) : Forward(r);
    EXPECT_TRUE(out.ok()) << out.status();
    if (!out.ok()) return std::vector<double>(x.size(), NAN);
    std::vector<double> v = (*out)[backward ? "grad_input" : "output"];
    if (gated && backward) {
      for (size_t i = 0; i < x.size(); ++i) v[i] = v[2 * i + 1];
      v.resize(x.size());
    }
    return v;
  }
  std::string name_;
};

// x from -20 to 20 in steps of 1e-3, 0 included exactly.
std::vector<double> Grid() {
  std::vector<double> x;
  for (int i = -20000; i <= 20000; ++i) x.push_back(i * 1e-3);
  return x;
}

class PropertiesTest : public ::testing::TestWithParam<std::string> {
 protected:
  const ActivationInfo& info() const {
    return FindActivation(GetParam())->info();
  }
  const Properties& props() const { return info().properties; }
  Probe probe() const { return Probe(GetParam()); }
};

TEST_P(PropertiesTest, NonlinearClaim) {
  // Distance from the chord through (-1, f(-1)) and (1, f(1)) on [-8, 8]
  // (wide enough for hardsigmoid, affine on [-3, 3]).
  const Probe p = probe();
  const double a = p.F(-1.0), b = p.F(1.0);
  double deviation = 0;
  for (double x = -8; x <= 8; x += 0.01) {
    const double line = a + (b - a) * (x + 1) / 2;
    deviation = std::max(deviation, std::fabs(p.F(x) - line));
  }
  if (props().nonlinear) {
    EXPECT_GT(deviation, 1e-3) << "claims non-linear but is affine";
  } else {
    EXPECT_LE(deviation, 1e-12) << "claims linear but deviates";
  }
}

TEST_P(PropertiesTest, MonotonicClaim) {
  const Probe p = probe();
  const std::vector<double> x = Grid();
  const std::vector<double> y = p.F(x), dy = p.DF(x);
  double most_negative_slope = 0, worst_x = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (dy[i] < most_negative_slope)
      most_negative_slope = dy[i], worst_x = x[i];
  }
  if (props().monotonic) {
    EXPECT_GE(most_negative_slope, 0) << "f'(" << worst_x << ") < 0";
    for (size_t i = 1; i < x.size(); ++i) {
      ASSERT_GE(y[i], y[i - 1] - 1e-15 * std::fabs(y[i - 1]))
          << "f decreases between " << x[i - 1] << " and " << x[i];
    }
  } else {
    EXPECT_LT(most_negative_slope, -1e-6) << "claims non-monotonic";
  }
}

TEST_P(PropertiesTest, SmoothnessAndKinks) {
  const Probe p = probe();
  if (props().smooth) {
    EXPECT_TRUE(props().kinks.empty());
    // f' continuous: on the grid it changes by at most max|f''|·step, and
    // every f'' here is below 2.
    const std::vector<double> x = Grid(), dy = p.DF(x);
    for (size_t i = 1; i < x.size(); ++i) {
      ASSERT_LE(std::fabs(dy[i] - dy[i - 1]), 2 * 1e-3)
          << "f' jumps between " << x[i - 1] << " and " << x[i];
    }
    EXPECT_NEAR(p.DF(-1e-9), p.DF(1e-9), 1e-6);
  } else {
    ASSERT_FALSE(props().kinks.empty()) << "not smooth, but no kink listed";
    for (double k : props().kinks) {
      const double left = p.DF(k - 1e-7), right = p.DF(k + 1e-7);
      EXPECT_GT(std::fabs(right - left), 1e-3) << "no jump of f' at " << k;
      // The subgradient at exactly the kink is the negative side's slope.
      EXPECT_NEAR(p.DF(k), left, 1e-6) << "f'(" << k << ")";
    }
  }
}

TEST_P(PropertiesTest, ZeroCenteredClaim) {
  const Probe p = probe();
  const std::vector<double> y = p.F(Grid());
  const auto [lo, hi] = std::minmax_element(y.begin(), y.end());
  const bool centred = p.F(0.0) == 0 && *lo < 0 && *hi > 0;
  EXPECT_EQ(props().zero_centered, centred)
      << "f(0) = " << p.F(0.0) << ", range on [-20, 20]: [" << *lo << ", "
      << *hi << "]";
}

// Minimizes s·f on [a, b] by golden-section search.
double GoldenMin(const Probe& p, double a, double b, double s) {
  const double g = (std::sqrt(5.0) - 1) / 2;
  for (int i = 0; i < 200 && b - a > 1e-12; ++i) {
    const double c = b - g * (b - a), d = a + g * (b - a);
    if (s * p.F(c) < s * p.F(d)) {
      b = d;
    } else {
      a = c;
    }
  }
  return p.F((a + b) / 2);
}

TEST_P(PropertiesTest, RangeClaim) {
  const Probe p = probe();
  std::vector<double> x = Grid();
  for (double t : {50.0, 100.0, 1e3, 1e6, 1e30, 1e300, kInf}) {
    x.push_back(t);
    x.push_back(-t);
  }
  const std::vector<double> y = p.F(x);
  const double lo = props().range_min, hi = props().range_max;
  auto slack = [](double v) { return 1e-12 * std::max(1.0, std::fabs(v)); };
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_GE(y[i], lo - slack(lo)) << "f(" << x[i] << ") below range_min";
    ASSERT_LE(y[i], hi + slack(hi)) << "f(" << x[i] << ") above range_max";
  }
  if (!info().elementwise) return;  // Dice's range depends on its data
  // Tight: the bound is attained, in a limit or at an interior extremum.
  for (int side : {-1, 1}) {
    const double bound = side < 0 ? lo : hi;
    const size_t best = side < 0
                            ? std::min_element(y.begin(), y.end()) - y.begin()
                            : std::max_element(y.begin(), y.end()) - y.begin();
    double extreme = y[best];
    if (std::isfinite(x[best]) && std::fabs(x[best]) < 20) {
      extreme = GoldenMin(p, x[best] - 1e-3, x[best] + 1e-3, side < 0 ? 1 : -1);
    }
    const char* what = side < 0 ? "range_min" : "range_max";
    if (std::isinf(bound)) {
      EXPECT_EQ(extreme, bound) << what << " not attained";
    } else {
      EXPECT_NEAR(extreme, bound, 1e-9 * std::max(1.0, std::fabs(bound)))
          << what << " not attained (at x = " << x[best] << ")";
    }
  }
}

TEST_P(PropertiesTest, SaturationClaims) {
  const Probe p = probe();
  for (int side : {-1, 1}) {
    const bool claimed =
        side < 0 ? props().saturates_left : props().saturates_right;
    const double far = p.DF(side * 50.0), farther = p.DF(side * 1e3),
                 limit = p.DF(side * kInf);
    SCOPED_TRACE(side < 0 ? "left" : "right");
    if (claimed) {
      EXPECT_LE(std::fabs(far), 1e-6);
      EXPECT_LE(std::fabs(farther), 1e-12);
      EXPECT_EQ(limit, 0);
    } else {
      EXPECT_GE(std::fabs(farther), 1e-3);
      EXPECT_GE(std::fabs(limit), 1e-3);
    }
  }
}

// E[f(x)] and Var[f(x)] for x ~ N(0, 1) by composite Simpson on [-12, 12]
// with step 1e-3 (0 is a panel boundary, so the kinks at 0 cost nothing); the
// quadrature error is far below the 1e-6 asked.
TEST_P(PropertiesTest, SelfNormalizingClaim) {
  const Probe p = probe();
  const double h = 1e-3;
  std::vector<double> x;
  for (int i = -12000; i <= 12000; ++i) x.push_back(i * h);
  const std::vector<double> y = p.F(x);
  double m1 = 0, m2 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double w = (i == 0 || i + 1 == x.size()) ? 1 : (i % 2 ? 4 : 2);
    const double phi = std::exp(-x[i] * x[i] / 2) / std::sqrt(2 * M_PI);
    m1 += w * phi * y[i];
    m2 += w * phi * y[i] * y[i];
  }
  m1 *= h / 3;
  m2 *= h / 3;
  const double mean = m1, var = m2 - m1 * m1;
  if (props().self_normalizing) {
    EXPECT_NEAR(mean, 0, 1e-6);
    EXPECT_NEAR(var, 1, 1e-6);
  } else if (props().nonlinear) {
    EXPECT_TRUE(std::fabs(mean) > 1e-3 || std::fabs(var - 1) > 1e-3)
        << "maps N(0, 1) to mean " << mean << ", variance " << var
        << " but does not claim self-normalization";
  }
}

// The sampled form of the claim: for every activation that claims
// self-normalization, a million seeded draws x ~ N(0, 1) in each dtype give
// outputs with mean within 0.01 of 0 and variance within 0.01 of 1 (the
// sampling error of either is about 2e-3 at this size).
TEST(SelfNormalizing, MillionSamplesKeepMeanZeroVarianceOne) {
  int claimed = 0;
  for (const Activation* a : AllActivations()) {
    if (!a->info().properties.self_normalizing) continue;
    ++claimed;
    SCOPED_TRACE(a->info().name);
    std::mt19937_64 rng(2024);
    std::normal_distribution<double> normal;
    std::vector<double> x(1000000);
    for (double& v : x) v = normal(rng);
    Request<double> r64;
    r64.name = a->info().name;
    r64.input = {{static_cast<int64_t>(x.size())}, x};
    Request<float> r32;
    r32.name = a->info().name;
    r32.input = {r64.input.shape, std::vector<float>(x.begin(), x.end())};
    absl::StatusOr<Results<double>> y64 = Forward(r64);
    absl::StatusOr<Results<float>> y32 = Forward(r32);
    ASSERT_TRUE(y64.ok()) << y64.status();
    ASSERT_TRUE(y32.ok()) << y32.status();
    for (int dtype = 0; dtype < 2; ++dtype) {
      double m1 = 0, m2 = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        const double y = dtype == 0 ? (*y64)["output"][i] : (*y32)["output"][i];
        m1 += y;
        m2 += y * y;
      }
      m1 /= x.size();
      m2 /= x.size();
      EXPECT_NEAR(m1, 0, 0.01) << (dtype == 0 ? "float64" : "float32");
      EXPECT_NEAR(m2 - m1 * m1, 1, 0.01)
          << (dtype == 0 ? "float64" : "float32");
    }
  }
  EXPECT_GE(claimed, 1) << "SELU claims self-normalization";
}

// The learnable parameters the row declares are the gradients Backward
// returns: a 0-d tensor per learnable number parameter, a tensor of the
// weight's shape per learnable weight, and nothing else beside grad_input.
TEST_P(PropertiesTest, LearnableParametersMatchBackward) {
  const ActivationInfo& i = info();
  int learnable = 0;
  for (const ParamInfo& p : i.params) learnable += p.learnable;
  for (const WeightInfo& w : i.weights) learnable += w.learnable;
  if (props().learnable_parameter_count >= 0) {
    EXPECT_EQ(props().learnable_parameter_count, learnable);
  }
  Request<double> r;
  r.name = i.name;
  r.input = {{4, 3}, {-2, -1, -0.5, 0.25, 0.5, 1, 2, 3, -3, 0.75, -0.75, 1.5}};
  if (i.gated) r.input = {{6, 2}, r.input.values};
  if (i.name == "prelu") r.weights["alpha"] = {{3}, {0.1, 0.2, 0.3}};
  if (i.name == "dice") r.weights["alpha"] = {{3}, {0.1, 0.2, 0.3}};
  if (i.name == "maxout") {
    r.params["pieces"] = ParamValue(2.0);
    r.weights["weight"] = {{4, 3}, std::vector<double>(12, 0.5)};
    r.weights["bias"] = {{4}, {0.0, 1.0, 2.0, 3.0}};
  }
  absl::StatusOr<Results<double>> g = Backward(r);
  ASSERT_TRUE(g.ok()) << g.status();
  size_t expected = 1;
  for (const ParamInfo& p : i.params) {
    if (!p.learnable) continue;
    ++expected;
    ASSERT_TRUE(g->has(p.name)) << p.name;
    EXPECT_EQ(g->shape(p.name), Shape{}) << p.name;
  }
  for (const WeightInfo& w : i.weights) {
    if (!w.learnable) continue;
    ++expected;
    ASSERT_TRUE(g->has(w.name)) << w.name;
    EXPECT_EQ(g->shape(w.name), r.weights.at(w.name).shape) << w.name;
  }
  EXPECT_EQ(g->tensors.size(), expected);
}

std::vector<std::string> ProbedNames() {
  std::vector<std::string> names;
  for (const Activation* a : AllActivations()) {
    if (a->info().name != "maxout") names.push_back(a->info().name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Activations, PropertiesTest,
                         ::testing::ValuesIn(ProbedNames()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           return i.param;
                         });

// Maxout's claims in the group form, f(a, b) = max(a, b).
TEST(MaxoutProperties, ClaimsHoldForTheGroupForm) {
  const Properties& props = FindActivation("maxout")->info().properties;
  auto run = [](std::vector<double> x, bool backward) {
    Request<double> r;
    r.name = "maxout";
    r.input = {{static_cast<int64_t>(x.size() / 2), 2}, std::move(x)};
    absl::StatusOr<Results<double>> out = backward ? Backward(r) : Forward(r);
    EXPECT_TRUE(out.ok());
    return (*out)[backward ? "grad_input" : "output"];
  };
  // Non-linear: max(1, 0) + max(0, 1) != max(1, 1).
  const std::vector<double> y = run({1, 0, 0, 1, 1, 1}, false);
  EXPECT_EQ(props.nonlinear, y[0] + y[1] != y[2]);
  // Monotonic: gradients are never negative, and raising one input never
  // lowers the output.
  std::mt19937_64 rng(101);
  std::normal_distribution<double> normal;
  std::vector<double> x(2000);
  for (double& v : x) v = normal(rng);
  const std::vector<double> base = run(x, false), grad = run(x, true);
  bool monotonic = true;
  for (double g : grad) monotonic &= g >= 0;
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> up = x;
    up[i] += 0.1;
    monotonic &= run(up, false)[i / 2] >= base[i / 2];
    if (i > 40) break;  // a sample is enough; each run is a full call
  }
  EXPECT_EQ(props.monotonic, monotonic);
  // Not smooth: the gradient jumps where the two entries tie.
  const std::vector<double> g = run({-1e-7, 0, 1e-7, 0}, true);
  EXPECT_EQ(props.smooth, g[0] == g[2]);
  // Zero-centered: f(0, 0) = 0 and outputs of both signs.
  const std::vector<double> z = run({0, 0, -2, -1, 1, 2}, false);
  EXPECT_EQ(props.zero_centered, z[0] == 0 && z[1] < 0 && z[2] > 0);
  // Range: ±inf reached.
  const std::vector<double> e = run({-kInf, -kInf, kInf, 0}, false);
  EXPECT_EQ(e[0], props.range_min);
  EXPECT_EQ(e[1], props.range_max);
  // No saturation: a group's gradient still sums to 1 far out on both sides.
  const std::vector<double> s = run({-1e3, -1e3 - 1, 1e3, 1e3 + 1}, true);
  EXPECT_EQ(props.saturates_left, s[0] + s[1] == 0);
  EXPECT_EQ(props.saturates_right, s[2] + s[3] == 0);
  // Not self-normalizing: E[max of two N(0, 1)] = 1/√π.
  double mean = 0;
  for (double v : base) mean += v;
  mean /= base.size();
  EXPECT_FALSE(props.self_normalizing);
  EXPECT_GT(mean, 0.4);
}

}  // namespace
}  // namespace actd::testing
