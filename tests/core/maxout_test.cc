// Maxout in both forms. Group form: y_j is the maximum of entries j·k ...
// j·k+k-1 along `axis`, the gradient goes to the first entry attaining it, and
// a NaN in a group makes that output NaN. Affine form: z = x·Wᵀ + b first, then
// the group max over the last axis, with dx, dW and db through the argmax.
// Checked against a long double reference and central finite differences on
// the float64 path.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/harness.h"

namespace actd::testing {
namespace {

using Ld = long double;

// The reference group max: output shape, values, and for each output the flat
// index of its first argmax (the first NaN if the group has one).
struct GroupMax {
  Shape shape;
  std::vector<Ld> y;
  std::vector<int64_t> at;
};

GroupMax ReferenceGroupMax(const std::vector<Ld>& z, const Shape& shape,
                           int axis, int64_t k) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t c = shape[axis], units = c / k;
  GroupMax g;
  g.shape = shape;
  g.shape[axis] = units;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t j = 0; j < units; ++j) {
      for (int64_t i = 0; i < inner; ++i) {
        int64_t best = -1;
        for (int64_t p = 0; p < k; ++p) {
          const int64_t idx = (o * c + j * k + p) * inner + i;
          if (std::isnan(z[idx])) {
            best = idx;
            break;
          }
          if (best < 0 || z[idx] > z[best]) best = idx;
        }
        g.y.push_back(z[best]);
        g.at.push_back(best);
      }
    }
  }
  return g;
}

template <typename T>
std::vector<Ld> Widen(const std::vector<T>& v) {
  return std::vector<Ld>(v.begin(), v.end());
}

template <typename T>
void CheckGroupForm(const Shape& shape, int axis, int64_t k,
                    std::optional<int> axis_param, std::vector<T> x = {}) {
  SCOPED_TRACE(std::string(TypeName<T>()) + " " + ShapeToString(shape) +
               " axis " + std::to_string(axis) + " pieces " +
               std::to_string(k));
  const int64_t n = NumElements(shape);
  if (x.empty()) {
    x = RandomNormals<T>(51 + n, (n + 5) / 6);
    x.resize(n);
  }
  Request<T> r;
  r.name = "maxout";
  r.params["pieces"] = ParamValue(double(k));
  if (axis_param) r.params["axis"] = ParamValue(double(*axis_param));
  r.input = {shape, x};
  const GroupMax want = ReferenceGroupMax(Widen(x), shape, axis, k);
  const std::vector<T> dy = RandomGrads<T>(52, want.y.size());
  r.grad_output = Tensor<T>{want.shape, dy};
  absl::StatusOr<Results<T>> y = Forward(r);
  absl::StatusOr<Results<T>> g = Backward(r);
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(y->shape("output"), want.shape);
  ASSERT_EQ(g->shape("grad_input"), shape);
  // The maximum and the routing are exact operations: no tolerance.
  for (size_t j = 0; j < want.y.size(); ++j) {
    if (std::isnan(want.y[j])) {
      EXPECT_TRUE(std::isnan((*y)["output"][j])) << "output " << j;
    } else {
      EXPECT_EQ((*y)["output"][j], static_cast<T>(want.y[j])) << "output " << j;
    }
  }
  std::vector<T> dx(n, T(0));
  for (size_t j = 0; j < want.at.size(); ++j) {
    dx[want.at[j]] = std::isnan(x[want.at[j]]) ? x[want.at[j]] : dy[j];
  }
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(dx[i])) {
      EXPECT_TRUE(std::isnan((*g)["grad_input"][i])) << "dx " << i;
    } else {
      EXPECT_EQ((*g)["grad_input"][i], dx[i]) << "dx " << i;
    }
  }
}

TEST(MaxoutGroups, ForwardAndBackwardAlongEveryAxis) {
  CheckGroupForm<float>({4, 6}, 1, 2, std::nullopt);
  CheckGroupForm<double>({4, 6}, 1, 3, -1);
  CheckGroupForm<float>({3, 8, 5}, 1, 4, 1);
  CheckGroupForm<double>({3, 8, 5}, 1, 2, -2);
  CheckGroupForm<float>({6, 2, 3}, 0, 3, 0);
  CheckGroupForm<double>({10}, 0, 5, std::nullopt);
  CheckGroupForm<float>({5, 7}, 1, 1, std::nullopt);  // k = 1: identity
  CheckGroupForm<double>({2, 3, 4, 6}, 3, 6, 3);
}

// Enough groups to be split into chunks on the compute pool.
TEST(MaxoutGroups, ManyGroups) {
  CheckGroupForm<float>({300, 512}, 1, 4, std::nullopt);
  CheckGroupForm<double>({20, 30, 200}, 1, 3, 1);
}

// Ties send the gradient to the first index attaining the maximum.
TEST(MaxoutGroups, TiesGoToTheFirstArgmax) {
  Request<double> r;
  r.name = "maxout";
  r.params["pieces"] = ParamValue(4.0);
  r.input = {{3, 4}, {1, 3, 3, 2, 5, 5, 5, 5, -1, -2, -1, -1}};
  r.grad_output = Tensor<double>{{3, 1}, {10, 20, 30}};
  absl::StatusOr<Results<double>> y = Forward(r);
  absl::StatusOr<Results<double>> g = Backward(r);
  ASSERT_TRUE(y.ok() && g.ok());
  EXPECT_EQ((*y)["output"], (std::vector<double>{3, 5, -1}));
  EXPECT_EQ((*g)["grad_input"],
            (std::vector<double>{0, 10, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0}));
  // Float32 and along a non-last axis: groups run down the columns.
  Request<float> c;
  c.name = "maxout";
  c.params["pieces"] = ParamValue(2.0);
  c.params["axis"] = ParamValue(0.0);
  c.input = {{2, 3}, {7, 1, 4, 7, 2, 4}};
  absl::StatusOr<Results<float>> gc = Backward(c);
  ASSERT_TRUE(gc.ok()) << gc.status();
  EXPECT_EQ((*gc)["grad_input"], (std::vector<float>{1, 0, 1, 0, 1, 0}));
}

TEST(MaxoutGroups, NanAndInfinities) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (int pos = 0; pos < 3; ++pos) {
    std::vector<double> x = {1, 2, 0.5, inf, -inf, 3, -inf, -inf, -inf};
    x[pos] = nan;
    CheckGroupForm<double>({3, 3}, 1, 3, std::nullopt, x);
    CheckGroupForm<float>({3, 3}, 1, 3, std::nullopt,
                          std::vector<float>(x.begin(), x.end()));
  }
  // The NaN group's output is NaN and its gradient is NaN only at the NaN.
  Request<float> r;
  r.name = "maxout";
  r.input = {{1, 6}, {5, NAN, 1, 2, -INFINITY, INFINITY}};
  absl::StatusOr<Results<float>> y = Forward(r);
  absl::StatusOr<Results<float>> g = Backward(r);
  ASSERT_TRUE(y.ok() && g.ok());
  EXPECT_TRUE(std::isnan((*y)["output"][0]));
  EXPECT_EQ((*y)["output"][1], 2.0f);
  EXPECT_EQ((*y)["output"][2], INFINITY);
  EXPECT_EQ((*g)["grad_input"][0], 0.0f);
  EXPECT_TRUE(std::isnan((*g)["grad_input"][1]));
  EXPECT_EQ((*g)["grad_input"][2], 0.0f);
  EXPECT_EQ((*g)["grad_input"][3], 1.0f);
  EXPECT_EQ((*g)["grad_input"][4], 0.0f);
  EXPECT_EQ((*g)["grad_input"][5], 1.0f);
}

// The affine form's data: x [rows, in], W [units·k, in], b [units·k], with the
// top two entries of every group at least `gap` apart (so the argmax cannot
// flip under rounding or a finite-difference step).
template <typename T>
struct Affine {
  Shape x_shape;
  std::vector<T> x, w, b;
  int64_t in, m, k, rows;
};

template <typename T>
Affine<T> MakeAffine(const Shape& x_shape, int64_t units, int64_t k,
                     uint64_t seed) {
  Affine<T> a;
  a.x_shape = x_shape;
  a.in = x_shape.back();
  a.k = k;
  a.m = units * k;
  a.rows = NumElements(x_shape) / a.in;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  for (int64_t i = 0; i < a.rows * a.in; ++i) a.x.push_back(T(normal(rng)));
  for (int64_t i = 0; i < a.m * a.in; ++i) a.w.push_back(T(normal(rng) / 3));
  for (int64_t i = 0; i < a.m; ++i) a.b.push_back(T(normal(rng)));
  return a;
}

// z = x·Wᵀ + b in long double, and Σ|x·w| + |b| per entry.
template <typename T>
void ReferenceAffine(const Affine<T>& a, bool with_bias, std::vector<Ld>* z,
                     std::vector<Ld>* mag) {
  z->assign(a.rows * a.m, 0);
  mag->assign(a.rows * a.m, 0);
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t i = 0; i < a.m; ++i) {
      Ld s = with_bias ? a.b[i] : 0, t = with_bias ? std::fabs(Ld(a.b[i])) : 0;
      for (int64_t l = 0; l < a.in; ++l) {
        s += Ld(a.x[r * a.in + l]) * a.w[i * a.in + l];
        t += std::fabs(Ld(a.x[r * a.in + l]) * a.w[i * a.in + l]);
      }
      (*z)[r * a.m + i] = s;
      (*mag)[r * a.m + i] = t;
    }
  }
}

// The smallest gap between a group's maximum and its runner-up, relative to
// the group's magnitude.
Ld MinRelativeGap(const std::vector<Ld>& z, const std::vector<Ld>& mag,
                  int64_t rows, int64_t m, int64_t k) {
  Ld gap = std::numeric_limits<Ld>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < m / k; ++j) {
      for (int64_t p = 0; p < k; ++p) {
        for (int64_t q = p + 1; q < k; ++q) {
          const int64_t a = r * m + j * k + p, b = r * m + j * k + q;
          gap =
              std::min(gap, std::fabs(z[a] - z[b]) / std::max(mag[a], mag[b]));
        }
      }
    }
  }
  return gap;
}

template <typename T>
void CheckAffine(const Shape& x_shape, int64_t units, int64_t k, bool with_bias,
                 bool with_dy, uint64_t seed) {
  SCOPED_TRACE(std::string(TypeName<T>()) + " x " + ShapeToString(x_shape) +
               " units " + std::to_string(units) + " k " + std::to_string(k) +
               (with_bias ? " with bias" : " without bias"));
  const Affine<T> a = MakeAffine<T>(x_shape, units, k, seed);
  std::vector<Ld> z, mag;
  ReferenceAffine(a, with_bias, &z, &mag);
  // float32 GEMM rounding is ≤ in·2^-24·Σ|terms| ≈ 1e-6 relative here: a
  // relative gap of 1e-4 keeps every argmax where the reference has it.
  ASSERT_GT(MinRelativeGap(z, mag, a.rows, a.m, k), 1e-4L)
      << "seed gives a near-tie; pick another";
  Request<T> r;
  r.name = "maxout";
  r.params["pieces"] = ParamValue(double(k));
  r.input = {x_shape, a.x};
  r.weights["weight"] = {{a.m, a.in}, a.w};
  if (with_bias) r.weights["bias"] = {{a.m}, a.b};
  Shape y_shape = x_shape;
  y_shape.back() = units;
  std::vector<T> dy(a.rows * units, T(1));
  if (with_dy) {
    dy = RandomGrads<T>(seed + 1, dy.size());
    r.grad_output = Tensor<T>{y_shape, dy};
  }
  absl::StatusOr<Results<T>> y = Forward(r);
  absl::StatusOr<Results<T>> g = Backward(r);
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(y->shape("output"), y_shape);
  ASSERT_EQ(g->shape("grad_input"), x_shape);
  ASSERT_TRUE(g->has("weight"));
  ASSERT_EQ(g->shape("weight"), (Shape{a.m, a.in}));
  if (with_bias) {
    ASSERT_TRUE(g->has("bias"));
    ASSERT_EQ(g->shape("bias"), Shape{a.m});
  }
  const GroupMax gm = ReferenceGroupMax(z, {a.rows, a.m}, 1, k);
  // Sums of products are bounded relative to Σ|terms| (the spec's bound for
  // sums): 1e-5 in float32, 1e-12 in float64.
  const Ld tol = Tolerance<T>::kSum;
  Mismatches bad(std::string("maxout affine ") + TypeName<T>());
  std::vector<Ld> dz(a.rows * a.m, 0);
  for (size_t j = 0; j < gm.y.size(); ++j) {
    bad.Check("y j=" + std::to_string(j), 0, (*y)["output"][j], gm.y[j],
              tol * mag[gm.at[j]]);
    dz[gm.at[j]] = dy[j];
  }
  for (int64_t row = 0; row < a.rows; ++row) {
    for (int64_t l = 0; l < a.in; ++l) {
      Ld s = 0, t = 0;
      for (int64_t i = 0; i < a.m; ++i) {
        s += dz[row * a.m + i] * a.w[i * a.in + l];
        t += std::fabs(dz[row * a.m + i] * a.w[i * a.in + l]);
      }
      bad.Check("dx row=" + std::to_string(row) + " l=" + std::to_string(l),
                a.x[row * a.in + l], (*g)["grad_input"][row * a.in + l], s,
                tol * t);
    }
  }
  for (int64_t i = 0; i < a.m; ++i) {
    Ld sb = 0, tb = 0;
    for (int64_t row = 0; row < a.rows; ++row) {
      sb += dz[row * a.m + i];
      tb += std::fabs(dz[row * a.m + i]);
    }
    if (with_bias) {
      bad.Check("db i=" + std::to_string(i), 0, (*g)["bias"][i], sb, tol * tb);
    }
    for (int64_t l = 0; l < a.in; ++l) {
      Ld s = 0, t = 0;
      for (int64_t row = 0; row < a.rows; ++row) {
        s += dz[row * a.m + i] * a.x[row * a.in + l];
        t += std::fabs(dz[row * a.m + i] * a.x[row * a.in + l]);
      }
      bad.Check("dW i=" + std::to_string(i) + " l=" + std::to_string(l), 0,
                (*g)["weight"][i * a.in + l], s, tol * t);
    }
  }
}

TEST(MaxoutAffine, ForwardAndBackwardAgainstReference) {
  CheckAffine<float>({8, 5}, 3, 2, true, true, 61);
  CheckAffine<double>({8, 5}, 3, 2, true, true, 62);
  CheckAffine<float>({2, 3, 7}, 4, 3, true, true, 63);
  CheckAffine<double>({2, 3, 7}, 4, 3, false, true, 64);
  CheckAffine<float>({6, 16}, 2, 4, false, false, 65);
  CheckAffine<double>({5, 3}, 1, 1, true, false, 66);
  CheckAffine<float>({64, 48}, 8, 3, true, true, 67);
  CheckAffine<double>({64, 48}, 8, 3, true, true, 68);
}

// dx, dW and db against central differences of L = Σ dy·y on the float64
// path. Away from ties L is linear in each of x, W, b, so the difference
// quotient has no truncation error; the step h = 1e-4 moves any z by at most
// h·(Σ|w| + Σ|x| + 1) < 1e-2, below the smallest gap the data is built with,
// so no argmax flips. Rounding of L (≤ 1e-15·Σ|dy|·|z| per product, about
// 1e-14 here) over 2h gives ≤ 1e-10; the tolerance is 1e-8.
TEST(MaxoutAffine, GradientsMatchFiniteDifferences) {
  const int64_t units = 2, k = 3;
  Affine<double> a = MakeAffine<double>({4, 3}, units, k, 71);
  std::vector<Ld> z, mag;
  ReferenceAffine(a, true, &z, &mag);
  Ld abs_gap = std::numeric_limits<Ld>::infinity();
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t j = 0; j < units; ++j) {
      for (int64_t p = 0; p < k; ++p) {
        for (int64_t q = p + 1; q < k; ++q) {
          abs_gap = std::min(abs_gap, std::fabs(z[r * a.m + j * k + p] -
                                                z[r * a.m + j * k + q]));
        }
      }
    }
  }
  ASSERT_GT(abs_gap, 2e-2L) << "seed gives a near-tie; pick another";
  const std::vector<double> dy = RandomGrads<double>(72, a.rows * units);
  auto request = [&](const Affine<double>& d) {
    Request<double> r;
    r.name = "maxout";
    r.params["pieces"] = ParamValue(double(k));
    r.input = {d.x_shape, d.x};
    r.weights["weight"] = {{d.m, d.in}, d.w};
    r.weights["bias"] = {{d.m}, d.b};
    r.grad_output = Tensor<double>{{d.rows, units}, dy};
    return r;
  };
  auto loss = [&](const Affine<double>& d) {
    absl::StatusOr<Results<double>> y = Forward(request(d));
    EXPECT_TRUE(y.ok());
    double l = 0;
    for (size_t j = 0; j < dy.size(); ++j) l += dy[j] * (*y)["output"][j];
    return l;
  };
  absl::StatusOr<Results<double>> g = Backward(request(a));
  ASSERT_TRUE(g.ok()) << g.status();
  const double h = 1e-4;
  auto check = [&](std::vector<double> Affine<double>::*field,
                   const std::string& grad) {
    for (size_t i = 0; i < (a.*field).size(); ++i) {
      Affine<double> up = a, down = a;
      (up.*field)[i] += h;
      (down.*field)[i] -= h;
      const double fd = (loss(up) - loss(down)) / (2 * h);
      EXPECT_NEAR((*g)[grad][i], fd, 1e-8) << grad << "[" << i << "]";
    }
  };
  check(&Affine<double>::x, "grad_input");
  check(&Affine<double>::w, "weight");
  check(&Affine<double>::b, "bias");
}

// Group form dx against central differences (float64): L is linear in each x
// away from ties; entries are spaced ≥ 0.05 apart and h = 1e-3.
TEST(MaxoutGroups, GradientMatchesFiniteDifferences) {
  const Shape shape = {3, 6, 2};
  std::vector<double> x(NumElements(shape));
  std::mt19937_64 rng(81);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.05 * double(i) - 0.9;
  std::shuffle(x.begin(), x.end(), rng);
  const std::vector<double> dy = RandomGrads<double>(82, 3 * 2 * 2);
  auto request = [&](const std::vector<double>& v) {
    Request<double> r;
    r.name = "maxout";
    r.params["pieces"] = ParamValue(3.0);
    r.params["axis"] = ParamValue(1.0);
    r.input = {shape, v};
    r.grad_output = Tensor<double>{{3, 2, 2}, dy};
    return r;
  };
  auto loss = [&](const std::vector<double>& v) {
    absl::StatusOr<Results<double>> y = Forward(request(v));
    EXPECT_TRUE(y.ok());
    double l = 0;
    for (size_t j = 0; j < dy.size(); ++j) l += dy[j] * (*y)["output"][j];
    return l;
  };
  absl::StatusOr<Results<double>> g = Backward(request(x));
  ASSERT_TRUE(g.ok()) << g.status();
  const double h = 1e-3;
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> up = x, down = x;
    up[i] += h;
    down[i] -= h;
    EXPECT_NEAR((*g)["grad_input"][i], (loss(up) - loss(down)) / (2 * h), 1e-10)
        << "x[" << i << "]";
  }
}

}  // namespace
}  // namespace actd::testing

namespace actd::testing {
namespace {

// Maxout has no from-output form: a given `output` changes nothing.
TEST(MaxoutGroups, BackwardIgnoresOutput) {
  Request<float> r;
  r.name = "maxout";
  r.params["pieces"] = ParamValue(3.0);
  r.input = {{4, 6}, RandomNormals<float>(111, 4)};
  r.grad_output = Tensor<float>{{4, 2}, RandomGrads<float>(112, 8)};
  absl::StatusOr<Results<float>> y = Forward(r);
  absl::StatusOr<Results<float>> plain = Backward(r);
  ASSERT_TRUE(y.ok() && plain.ok());
  r.output = Tensor<float>{{4, 2}, (*y)["output"]};
  absl::StatusOr<Results<float>> with_y = Backward(r);
  ASSERT_TRUE(with_y.ok()) << with_y.status();
  EXPECT_EQ((*with_y)["grad_input"], (*plain)["grad_input"]);
}

}  // namespace
}  // namespace actd::testing
