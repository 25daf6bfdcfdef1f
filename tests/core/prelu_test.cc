// PReLU with its `alpha` weight: scalar ([] or [1]) or one slope per channel
// along `channel_axis` (default 1, PyTorch's NCHW), forward and backward
// against a long double reference, the alpha gradient's shape and value (a sum
// over each channel of dy·x where x <= 0), and central finite differences in
// alpha on the float64 path.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/harness.h"

namespace actd::testing {
namespace {

using Ld = long double;

// Channel of flat index i for a row-major shape, around `axis`.
int64_t ChannelOf(const Shape& shape, int axis, int64_t i) {
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  return (i / inner) % shape[axis];
}

template <typename T>
void CheckPrelu(const Shape& shape, const Shape& alpha_shape,
                std::optional<int> channel_axis, int axis) {
  SCOPED_TRACE(std::string(TypeName<T>()) + " input " + ShapeToString(shape) +
               " alpha " + ShapeToString(alpha_shape) + " axis " +
               std::to_string(axis));
  Request<T> r;
  r.name = "prelu";
  if (channel_axis)
    r.params["channel_axis"] = ParamValue(double(*channel_axis));
  const int64_t n = NumElements(shape);
  std::vector<T> x = RandomNormals<T>(41, (n + 5) / 6);
  x.resize(n);
  x[0] = T(0);  // the subgradient at 0 is the negative side's slope
  if (n > 3) x[3] = -T(0);
  r.input = {shape, x};
  const int64_t channels = NumElements(alpha_shape);
  std::vector<T> alpha(channels);
  for (int64_t c = 0; c < channels; ++c) alpha[c] = T(0.05 + 0.1 * c);
  r.weights["alpha"] = {alpha_shape, alpha};
  const std::vector<T> dy = RandomGrads<T>(42, n);
  r.grad_output = Tensor<T>{shape, dy};

  absl::StatusOr<Results<T>> y = Forward(r);
  absl::StatusOr<Results<T>> g = Backward(r);
  ASSERT_TRUE(y.ok()) << y.status();
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(y->shape("output"), shape);
  ASSERT_EQ(g->shape("grad_input"), shape);
  ASSERT_TRUE(g->has("alpha"));
  ASSERT_EQ(g->shape("alpha"), alpha_shape) << "dalpha has alpha's shape";

  Mismatches bad(std::string("prelu ") + TypeName<T>());
  std::vector<Ld> dalpha(channels, 0), magnitude(channels, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = channels == 1 ? 0 : ChannelOf(shape, axis, i);
    const Ld a = alpha[c], xi = x[i], gi = dy[i];
    const Ld f = xi > 0 ? xi : a * xi, df = xi > 0 ? 1 : a;
    bad.Check("y c=" + std::to_string(c), xi, (*y)["output"][i], f,
              ForwardBound<T>(xi, f, df));
    bad.Check("dx c=" + std::to_string(c), xi, (*g)["grad_input"][i], gi * df,
              BackwardBound<T>(xi, gi, df, 0));
    if (!(xi > 0)) {
      dalpha[c] += gi * xi;
      magnitude[c] += std::fabs(gi * xi);
    }
  }
  for (int64_t c = 0; c < channels; ++c) {
    bad.Check("dalpha c=" + std::to_string(c), c, (*g)["alpha"][c], dalpha[c],
              Tolerance<T>::kSum * magnitude[c]);
  }
}

TEST(Prelu, ScalarAlpha) {
  CheckPrelu<float>({3, 4, 5}, {}, std::nullopt, 1);
  CheckPrelu<double>({3, 4, 5}, {}, std::nullopt, 1);
  CheckPrelu<float>({1000}, {1}, std::nullopt, 0);
  CheckPrelu<double>({7, 9}, {1}, std::nullopt, 1);
}

TEST(Prelu, PerChannelAlongDefaultAxisOne) {
  CheckPrelu<float>({3, 4, 5}, {4}, std::nullopt, 1);
  CheckPrelu<double>({3, 4, 5}, {4}, std::nullopt, 1);
  CheckPrelu<float>({2, 3, 8, 8}, {3}, std::nullopt, 1);
  CheckPrelu<double>({5, 6}, {6}, std::nullopt, 1);
}

TEST(Prelu, PerChannelAlongOtherAxes) {
  CheckPrelu<float>({3, 4, 5}, {5}, -1, 2);
  CheckPrelu<double>({3, 4, 5}, {5}, 2, 2);
  CheckPrelu<float>({3, 4, 5}, {3}, 0, 0);
  CheckPrelu<double>({6, 2, 5}, {6}, -3, 0);
  CheckPrelu<float>({17}, {17}, 0, 0);
}

// Large enough to be split into many chunks by the compute pool, with a
// channel length that does not divide the chunk size.
TEST(Prelu, ManyChunks) {
  CheckPrelu<float>({9, 7, 1201}, {7}, std::nullopt, 1);
  CheckPrelu<double>({3, 70001}, {3}, 0, 0);
}

// d L/d alpha_c against central differences of L = Σ dy·y, float64. L is
// linear in each alpha_c, so the difference quotient has no truncation error;
// rounding of L (≤ 1e-14·Σ|dy·y|) over the step 1e-3 gives ≤ 2e-11·Σ|dy·y|;
// tolerance 1e-9·(Σ|dy·y| + |grad|).
TEST(Prelu, AlphaGradientMatchesFiniteDifferences) {
  const Shape shape = {4, 3, 6};
  std::vector<double> x = RandomNormals<double>(43, 12);
  x.resize(NumElements(shape));
  const std::vector<double> dy = RandomGrads<double>(44, x.size());
  const std::vector<double> alpha = {0.1, 0.3, 0.7};
  auto loss = [&](const std::vector<double>& a, double* scale) {
    Request<double> r;
    r.name = "prelu";
    r.input = {shape, x};
    r.weights["alpha"] = {{3}, a};
    absl::StatusOr<Results<double>> y = Forward(r);
    EXPECT_TRUE(y.ok());
    double l = 0, s = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      l += dy[i] * (*y)["output"][i];
      s += std::fabs(dy[i] * (*y)["output"][i]);
    }
    if (scale) *scale = s;
    return l;
  };
  Request<double> r;
  r.name = "prelu";
  r.input = {shape, x};
  r.weights["alpha"] = {{3}, alpha};
  r.grad_output = Tensor<double>{shape, dy};
  absl::StatusOr<Results<double>> g = Backward(r);
  ASSERT_TRUE(g.ok()) << g.status();
  double scale = 0;
  loss(alpha, &scale);
  const double h = 1e-3;
  for (int c = 0; c < 3; ++c) {
    std::vector<double> up = alpha, down = alpha;
    up[c] += h;
    down[c] -= h;
    const double fd = (loss(up, nullptr) - loss(down, nullptr)) / (2 * h);
    EXPECT_NEAR((*g)["alpha"][c], fd, 1e-9 * (scale + std::fabs(fd)))
        << "channel " << c;
  }
}

// Without the weight the slope is 0.25 and dalpha is a 0-d tensor.
TEST(Prelu, DefaultSlopeIsAQuarter) {
  Request<double> r;
  r.name = "prelu";
  r.input = {{2, 3}, {-4, -1, 0, 1, 2, -0.5}};
  absl::StatusOr<Results<double>> y = Forward(r);
  absl::StatusOr<Results<double>> g = Backward(r);
  ASSERT_TRUE(y.ok() && g.ok());
  EXPECT_EQ((*y)["output"], (std::vector<double>{-1, -0.25, 0, 1, 2, -0.125}));
  EXPECT_EQ((*g)["grad_input"],
            (std::vector<double>{0.25, 0.25, 0.25, 1, 1, 0.25}));
  ASSERT_EQ(g->shape("alpha"), Shape{});
  EXPECT_EQ((*g)["alpha"][0], -4 - 1 + 0 - 0.5);
}

}  // namespace
}  // namespace actd::testing
