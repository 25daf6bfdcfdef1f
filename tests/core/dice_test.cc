// Dice (Deep Interest Network, eq. 9): per channel c along `axis`,
// z = (x - μ_c)/√(var_c + ε), p = σ(z), y = x·(α_c + (1 - α_c)·p). In training
// μ and the biased var come from the batch (and are returned as batch_mean and
// batch_var) and the backward differentiates through them; in inference they
// are the given running statistics. Checked against a long double reference of
// the spec's formulas, on every instruction set the CPU runs, and against
// central finite differences of the float64 forward (which validates those
// formulas independently).
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
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
    body();
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
}

struct DiceCase {
  Shape shape;
  int axis = -1;  // normalized
  std::optional<int> axis_param = std::nullopt;
  bool training = true;
  std::optional<double> epsilon = std::nullopt;
  bool with_alpha = true;
  uint64_t seed = 1;
};

template <typename T>
struct DiceData {
  std::vector<T> x, alpha, running_mean, running_var, dy;
  int64_t outer = 1, channels = 1, inner = 1;
  int64_t Channel(int64_t i) const { return (i / inner) % channels; }
};

template <typename T>
DiceData<T> MakeData(const DiceCase& c) {
  DiceData<T> d;
  for (int i = 0; i < c.axis; ++i) d.outer *= c.shape[i];
  d.channels = c.shape[c.axis];
  for (size_t i = c.axis + 1; i < c.shape.size(); ++i) d.inner *= c.shape[i];
  std::mt19937_64 rng(c.seed);
  std::normal_distribution<double> normal;
  // Channels with different centres and spreads.
  const double centres[] = {0.5, -2.0, 10.0, 0.0, 3.0};
  const double spreads[] = {1.0, 0.1, 3.0, 2.0, 0.5};
  const int64_t n = NumElements(c.shape);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ch = d.Channel(i) % 5;
    d.x.push_back(T(centres[ch] + spreads[ch] * normal(rng)));
  }
  for (int64_t ch = 0; ch < d.channels; ++ch) {
    d.alpha.push_back(T(0.6 * std::sin(1.0 + ch)));
    d.running_mean.push_back(T(centres[ch % 5] + 0.1 * normal(rng)));
    d.running_var.push_back(T(spreads[ch % 5] * spreads[ch % 5] * 1.2));
  }
  d.dy = RandomGrads<T>(c.seed + 7, n);
  return d;
}

template <typename T>
Request<T> MakeRequest(const DiceCase& c, const DiceData<T>& d) {
  Request<T> r;
  r.name = "dice";
  if (c.axis_param) r.params["axis"] = ParamValue(double(*c.axis_param));
  if (c.epsilon) r.params["epsilon"] = ParamValue(*c.epsilon);
  if (!c.training) r.params["training"] = ParamValue(false);
  r.input = {c.shape, d.x};
  if (c.with_alpha) r.weights["alpha"] = {{d.channels}, d.alpha};
  if (!c.training) {
    r.weights["running_mean"] = {{d.channels}, d.running_mean};
    r.weights["running_var"] = {{d.channels}, d.running_var};
  }
  return r;
}

// The reference: statistics, y, dx, dalpha, plus the magnitudes the bounds
// use.
struct DiceReference {
  std::vector<Ld> mean, var, y, dydx_local, dx, dx_terms, dalpha, dalpha_terms;
  std::vector<Ld> abs_mean;
  // Σ_j |x_j·∂y_i/∂x_j| over the channel (bounded above), the condition of
  // y_i as a function of every input it depends on.
  std::vector<Ld> sensitivity;
};

template <typename T>
DiceReference ComputeReference(const DiceCase& c, const DiceData<T>& d) {
  const int64_t n = d.x.size(), C = d.channels;
  const Ld count = Ld(n / C);
  const Ld eps = c.epsilon.value_or(1e-8);
  DiceReference ref;
  ref.mean.assign(C, 0);
  ref.var.assign(C, 0);
  ref.abs_mean.assign(C, 0);
  if (c.training) {
    for (int64_t i = 0; i < n; ++i) {
      ref.mean[d.Channel(i)] += d.x[i];
      ref.abs_mean[d.Channel(i)] += std::fabs(Ld(d.x[i]));
    }
    for (int64_t ch = 0; ch < C; ++ch) {
      ref.mean[ch] /= count;
      ref.abs_mean[ch] /= count;
    }
    for (int64_t i = 0; i < n; ++i) {
      const Ld dev = d.x[i] - ref.mean[d.Channel(i)];
      ref.var[d.Channel(i)] += dev * dev;
    }
    for (Ld& v : ref.var) v /= count;
  } else {
    for (int64_t ch = 0; ch < C; ++ch) {
      ref.mean[ch] = d.running_mean[ch];
      ref.var[ch] = d.running_var[ch];
    }
  }
  std::vector<Ld> alpha(C, 0), inv_r(C);
  for (int64_t ch = 0; ch < C; ++ch) {
    if (c.with_alpha) alpha[ch] = d.alpha[ch];
    inv_r[ch] = 1 / std::sqrt(ref.var[ch] + eps);
  }
  std::vector<Ld> z(n), g(n), direct(n), mean_g(C, 0), mean_gz(C, 0);
  ref.dalpha.assign(C, 0);
  ref.dalpha_terms.assign(C, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ch = d.Channel(i);
    const Ld x = d.x[i], a = alpha[ch], dy = d.dy[i];
    z[i] = (x - ref.mean[ch]) * inv_r[ch];
    const Ld p = Sigmoid(z[i]), q = Sigmoid(-z[i]);
    ref.y.push_back(x * (a + (1 - a) * p));
    ref.dydx_local.push_back(a + (1 - a) * p + x * (1 - a) * p * q * inv_r[ch]);
    g[i] = dy * x * (1 - a) * p * q;
    direct[i] = dy * (a + (1 - a) * p);
    mean_g[ch] += g[i] / count;
    mean_gz[ch] += g[i] * z[i] / count;
    ref.dalpha[ch] += dy * x * q;
    ref.dalpha_terms[ch] += std::fabs(dy * x * q);
  }
  // In training y_i depends on the whole channel through μ and var:
  // ∂y_i/∂x_j = s_i·(δ_ij - 1/N - z_i·z_j/N)/r with s_i = x_i(1-α)pq, so
  // Σ_j |x_j·∂y_i/∂x_j| ≤ |x_i·∂y_i/∂x_i| + |s_i|/r·(mean|x| +
  // |z_i|·mean|x·z|).
  std::vector<Ld> mean_abs_xz(C, 0);
  for (int64_t i = 0; i < n; ++i) {
    mean_abs_xz[d.Channel(i)] += std::fabs(d.x[i] * z[i]) / count;
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ch = d.Channel(i);
    const Ld x = d.x[i], a = alpha[ch];
    const Ld s = x * (1 - a) * Sigmoid(z[i]) * Sigmoid(-z[i]);
    Ld through_stats = 0;
    if (c.training) {
      through_stats = std::fabs(s) * inv_r[ch] *
                      (ref.abs_mean[ch] + std::fabs(z[i]) * mean_abs_xz[ch]);
    }
    ref.sensitivity.push_back(std::fabs(x * ref.dydx_local[i]) + through_stats);
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ch = d.Channel(i);
    if (c.training) {
      ref.dx.push_back(direct[i] +
                       inv_r[ch] * (g[i] - mean_g[ch] - z[i] * mean_gz[ch]));
      ref.dx_terms.push_back(std::fabs(direct[i]) +
                             inv_r[ch] *
                                 (std::fabs(g[i]) + std::fabs(mean_g[ch]) +
                                  std::fabs(z[i] * mean_gz[ch])));
    } else {
      ref.dx.push_back(direct[i] + inv_r[ch] * g[i]);
      ref.dx_terms.push_back(std::fabs(direct[i]) +
                             inv_r[ch] * std::fabs(g[i]));
    }
  }
  return ref;
}

template <typename T>
void CheckDiceOnce(const DiceCase& c) {
  const DiceData<T> d = MakeData<T>(c);
  const DiceReference ref = ComputeReference(c, d);
  Request<T> r = MakeRequest(c, d);
  absl::StatusOr<Results<T>> y = Forward(r);
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_EQ(y->shape("output"), c.shape);
  r.grad_output = Tensor<T>{c.shape, d.dy};
  absl::StatusOr<Results<T>> g = Backward(r);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->shape("grad_input"), c.shape);
  ASSERT_TRUE(g->has("alpha")) << "dalpha is returned even for default alpha";
  ASSERT_EQ(g->shape("alpha"), Shape{d.channels});

  Mismatches bad(std::string("dice ") + TypeName<T>() +
                 (c.training ? " training" : " inference"));
  for (size_t i = 0; i < d.x.size(); ++i) {
    // The spec's forward bound, tol·max(|y|, κ·|y|/8), with κ·|y| the
    // condition over every input y depends on (in inference: x alone).
    bad.Check("y i=" + std::to_string(i), d.x[i], (*y)["output"][i], ref.y[i],
              Tolerance<T>::kForward *
                      std::max(std::fabs(ref.y[i]), ref.sensitivity[i] / 8) +
                  Tolerance<T>::kForwardAbs);
    // dx is a combination of per-element terms and channel means: bounded
    // relative to the sum of their magnitudes, plus the spec's |dy| term.
    bad.Check("dx i=" + std::to_string(i), d.x[i], (*g)["grad_input"][i],
              ref.dx[i],
              Tolerance<T>::kBackward * ref.dx_terms[i] +
                  Tolerance<T>::kBackwardDy * std::fabs(Ld(d.dy[i])));
  }
  for (int64_t ch = 0; ch < d.channels; ++ch) {
    bad.Check("dalpha c=" + std::to_string(ch), 0, (*g)["alpha"][ch],
              ref.dalpha[ch], Tolerance<T>::kSum * ref.dalpha_terms[ch]);
  }
  if (c.training) {
    ASSERT_TRUE(y->has("batch_mean"));
    ASSERT_TRUE(y->has("batch_var"));
    ASSERT_EQ(y->shape("batch_mean"), Shape{d.channels});
    ASSERT_EQ(y->shape("batch_var"), Shape{d.channels});
    for (int64_t ch = 0; ch < d.channels; ++ch) {
      bad.Check("batch_mean c=" + std::to_string(ch), 0, (*y)["batch_mean"][ch],
                ref.mean[ch], Tolerance<T>::kSum * ref.abs_mean[ch]);
      bad.Check("batch_var (biased) c=" + std::to_string(ch), 0,
                (*y)["batch_var"][ch], ref.var[ch],
                Tolerance<T>::kSum * ref.var[ch]);
    }
  }
}

template <typename T>
void CheckDice(const DiceCase& c) {
  SCOPED_TRACE(std::string(TypeName<T>()) + " " + ShapeToString(c.shape) +
               " axis " + std::to_string(c.axis) +
               (c.training ? " training" : " inference"));
  ForEachIsa([&] { CheckDiceOnce<T>(c); });
}

// The kernels run packets along the channels when inner = 1, else along inner;
// the shapes include partial last packets either way (C or inner not a
// multiple of 2, 4 or 8).
TEST(Dice, TrainingAgainstReference) {
  CheckDice<float>({{64, 3}, 1});
  CheckDice<double>({{64, 3}, 1});
  CheckDice<float>({{4, 3, 5}, 1, 1, true, 1e-3, true, 2});
  CheckDice<double>({{4, 3, 5}, 1, -2, true, 1e-3, true, 3});
  CheckDice<float>({{5, 2, 6}, 0, 0, true, std::nullopt, false, 4});
  CheckDice<double>({{200}, 0, std::nullopt, true, std::nullopt, true, 5});
  CheckDice<float>({{50, 11}, 1, std::nullopt, true, std::nullopt, true, 10});
  CheckDice<double>({{50, 11}, 1, std::nullopt, true, std::nullopt, true, 11});
  CheckDice<float>({{7, 3, 9}, 1, 1, true, std::nullopt, true, 12});
}

TEST(Dice, InferenceAgainstReference) {
  CheckDice<float>({{64, 3}, 1, std::nullopt, false});
  CheckDice<double>({{64, 3}, 1, std::nullopt, false});
  CheckDice<float>({{4, 3, 5}, 1, 1, false, 0.5, true, 6});
  CheckDice<double>({{4, 3, 5}, 1, 1, false, std::nullopt, false, 7});
  CheckDice<float>({{50, 11}, 1, std::nullopt, false, std::nullopt, true, 13});
  CheckDice<double>({{7, 3, 9}, 1, 1, false, std::nullopt, true, 14});
}

// Batches large enough to span several chunks of the compute pool.
TEST(Dice, LargeBatches) {
  CheckDice<float>({{20000, 4}, 1, std::nullopt, true, std::nullopt, true, 8});
  CheckDice<double>({{3, 5, 4000}, 1, 1, true, std::nullopt, true, 9});
  CheckDice<float>({{20000, 4}, 1, std::nullopt, false});
}

// dx and dalpha against central differences of L = Σ dy·y in float64, through
// the batch statistics in training. Fourth-order stencil with h = 1e-4·max(1,
// |x|): truncation h⁴·|L⁽⁵⁾|/30, and L⁽⁵⁾ is O(Σ|dy|·|x|/r⁵) ≤ 1e3 for these
// channels (r ≥ 0.1), so ≤ 1e-15; rounding of each L is ≤ 1e-14·Σ|dy·y|
// (≈ 1e-12 here), times 1.5/h = 2e-8 at most. Tolerance: 1e-7·(1 + |grad|).
template <bool kTraining>
void CheckDiceFiniteDifferences() {
  DiceCase c{{6, 3}, 1, std::nullopt, kTraining, std::nullopt, true, 91};
  DiceData<double> d = MakeData<double>(c);
  auto loss = [&](const DiceData<double>& v) {
    absl::StatusOr<Results<double>> y = Forward(MakeRequest(c, v));
    EXPECT_TRUE(y.ok()) << y.status();
    double l = 0;
    for (size_t i = 0; i < v.x.size(); ++i) l += v.dy[i] * (*y)["output"][i];
    return l;
  };
  auto fd = [&](std::vector<double> DiceData<double>::*field, size_t i) {
    const double h = 1e-4 * std::max(1.0, std::fabs((d.*field)[i]));
    double l[4];
    int s = 0;
    for (double k : {-2.0, -1.0, 1.0, 2.0}) {
      DiceData<double> v = d;
      (v.*field)[i] += k * h;
      l[s++] = loss(v);
    }
    return (l[0] - 8 * l[1] + 8 * l[2] - l[3]) / (12 * h);
  };
  Request<double> r = MakeRequest(c, d);
  r.grad_output = Tensor<double>{c.shape, d.dy};
  absl::StatusOr<Results<double>> g = Backward(r);
  ASSERT_TRUE(g.ok()) << g.status();
  for (size_t i = 0; i < d.x.size(); ++i) {
    const double got = (*g)["grad_input"][i];
    EXPECT_NEAR(got, fd(&DiceData<double>::x, i), 1e-7 * (1 + std::fabs(got)))
        << "dx[" << i << "]";
  }
  for (size_t ch = 0; ch < d.alpha.size(); ++ch) {
    const double got = (*g)["alpha"][ch];
    EXPECT_NEAR(got, fd(&DiceData<double>::alpha, ch),
                1e-7 * (1 + std::fabs(got)))
        << "dalpha[" << ch << "]";
  }
}

TEST(Dice, TrainingGradientsMatchFiniteDifferences) {
  CheckDiceFiniteDifferences<true>();
}

TEST(Dice, InferenceGradientsMatchFiniteDifferences) {
  CheckDiceFiniteDifferences<false>();
}

// Default alpha is zeros: y = x·σ(z).
TEST(Dice, DefaultAlphaIsZero) {
  Request<double> r;
  r.name = "dice";
  r.params["training"] = ParamValue(false);
  r.input = {{2, 2}, {1.0, -2.0, 0.0, 3.0}};
  r.weights["running_mean"] = {{2}, {0.0, 1.0}};
  r.weights["running_var"] = {{2}, {1.0, 4.0}};
  absl::StatusOr<Results<double>> y = Forward(r);
  ASSERT_TRUE(y.ok()) << y.status();
  const double eps = 1e-8;
  const double want[] = {
      1.0 * static_cast<double>(Sigmoid(1 / std::sqrt(1 + eps))),
      -2.0 * static_cast<double>(Sigmoid(-3 / std::sqrt(4 + eps))), 0.0,
      3.0 * static_cast<double>(Sigmoid(2 / std::sqrt(4 + eps)))};
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR((*y)["output"][i], want[i], 1e-15) << i;
  }
}

// In inference each element stands alone: NaN in x is NaN in y and dx there
// only.
TEST(Dice, InferenceNanStaysInItsElement) {
  ForEachIsa([&] {
    for (int pos = 0; pos < 6; ++pos) {
      Request<float> r;
      r.name = "dice";
      r.params["training"] = ParamValue(false);
      std::vector<float> x = {1, -2, 0.5, 3, -0.25, 2};
      x[pos] = NAN;
      r.input = {{3, 2}, x};
      r.weights["running_mean"] = {{2}, {0.0f, 1.0f}};
      r.weights["running_var"] = {{2}, {1.0f, 4.0f}};
      absl::StatusOr<Results<float>> y = Forward(r);
      absl::StatusOr<Results<float>> g = Backward(r);
      ASSERT_TRUE(y.ok() && g.ok());
      for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(std::isnan((*y)["output"][i]), i == pos) << i;
        EXPECT_EQ(std::isnan((*g)["grad_input"][i]), i == pos) << i;
      }
    }
  });
}

}  // namespace
}  // namespace actd::testing

namespace actd::testing {
namespace {

// In inference Dice is element-wise, and the spec's infinity policy applies:
// y(±inf) and dy/dx(±inf) are the limits, never NaN from inf·0. With
// α = 0: y(-inf) = 0, y(+inf) = +inf, f'(-inf) = 0, f'(+inf) = 1; with
// α = 0.25: y(-inf) = -inf and f'(-inf) = α.
// The input is two elements of one channel: a column ([2, 1], the kernels'
// packets run along the channels) or a row ([1, 2] with axis 0, along inner).
template <typename T>
void CheckInferenceInfinities() {
  constexpr T kInf = std::numeric_limits<T>::infinity();
  for (const bool column : {true, false}) {
    for (const T alpha : {T(0), T(0.25)}) {
      SCOPED_TRACE(std::string(TypeName<T>()) +
                   (column ? " [2, 1]" : " [1, 2]") + " alpha " +
                   std::to_string(alpha));
      Request<T> r;
      r.name = "dice";
      r.params["training"] = ParamValue(false);
      if (!column) r.params["axis"] = ParamValue(0.0);
      r.input = {column ? Shape{2, 1} : Shape{1, 2}, {-kInf, kInf}};
      r.weights["alpha"] = {{1}, {alpha}};
      r.weights["running_mean"] = {{1}, {T(0.5)}};
      r.weights["running_var"] = {{1}, {T(2)}};
      absl::StatusOr<Results<T>> y = Forward(r);
      absl::StatusOr<Results<T>> g = Backward(r);
      ASSERT_TRUE(y.ok() && g.ok());
      EXPECT_EQ((*y)["output"][0], alpha == 0 ? T(0) : -kInf);
      EXPECT_EQ((*y)["output"][1], kInf);
      EXPECT_EQ((*g)["grad_input"][0], alpha);
      EXPECT_EQ((*g)["grad_input"][1], T(1));
    }
  }
}

TEST(Dice, InferenceInfinitiesGiveTheLimits) {
  ForEachIsa([] {
    CheckInferenceInfinities<float>();
    CheckInferenceInfinities<double>();
  });
}

// A missing grad_output means ones; a given `output` (Dice has no from-output
// form) changes nothing.
TEST(Dice, BackwardDefaultsAndIgnoredOutput) {
  for (bool training : {true, false}) {
    DiceCase c{{32, 3}, 1, std::nullopt, training};
    const DiceData<double> d = MakeData<double>(c);
    Request<double> r = MakeRequest(c, d);
    absl::StatusOr<Results<double>> implicit = Backward(r);
    absl::StatusOr<Results<double>> y = Forward(r);
    r.grad_output = Tensor<double>{c.shape, std::vector<double>(96, 1.0)};
    absl::StatusOr<Results<double>> ones = Backward(r);
    ASSERT_TRUE(implicit.ok() && y.ok() && ones.ok());
    r.output = Tensor<double>{c.shape, (*y)["output"]};
    absl::StatusOr<Results<double>> with_y = Backward(r);
    ASSERT_TRUE(with_y.ok()) << with_y.status();
    for (const char* name : {"grad_input", "alpha"}) {
      const std::vector<double>& a = (*implicit)[name];
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_NEAR(a[i], (*ones)[name][i], 1e-15 * (1 + std::fabs(a[i])))
            << name << "[" << i << "]";
        EXPECT_EQ((*with_y)[name][i], (*ones)[name][i])
            << name << "[" << i << "]";
      }
    }
  }
}

}  // namespace
}  // namespace actd::testing
