// The references and the case table of reference.h. Every formula is the
// spec's, evaluated in double on inputs the dtype can hold.
#include "tests/service/reference.h"

#include <cmath>
#include <numbers>

namespace actd::service_test {
namespace {

using Scalar = std::function<double(double)>;

constexpr double kSeluLambda = 1.0507009873554804934193349852946;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;

// The input of the element-wise cases: both signs, zero, a tail value.
const Values kX = {-3.5, -1.25, -0.5, 0.0, 0.375, 1.0, 2.75};

double Phi(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }
double phi(double x) {
  return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi);
}

// Elements per [outer, channels, inner] split around `axis`.
struct Split {
  int64_t outer = 1, channels = 1, inner = 1;
};
Split SplitAt(const Shape& shape, int axis) {
  if (axis < 0) axis += static_cast<int>(shape.size());
  Split s;
  for (int i = 0; i < static_cast<int>(shape.size()); ++i) {
    if (i < axis) s.outer *= shape[i];
    if (i == axis) s.channels = shape[i];
    if (i > axis) s.inner *= shape[i];
  }
  return s;
}

// f and f' element by element; `grad` names a learnable scalar whose
// gradient is Σ dy·dgrad(x).
ReferenceFn Pointwise(Scalar f, Scalar df, std::string grad = "",
                      Scalar dgrad = nullptr) {
  return [=](const Values& x, const std::map<std::string, Values>&,
             const Values& dy) {
    Reference r;
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      r.y.push_back(f(x[i]));
      r.dx.push_back(dy[i] * df(x[i]));
      if (dgrad) sum += dy[i] * dgrad(x[i]);
    }
    if (!grad.empty()) r.grads[grad] = {{}, {sum}};
    return r;
  };
}

ReferenceFn Elu(double alpha, double scale = 1.0, bool learnable = true) {
  return Pointwise(
      [=](double x) { return scale * (x > 0 ? x : alpha * std::expm1(x)); },
      [=](double x) { return scale * (x > 0 ? 1 : alpha * std::exp(x)); },
      learnable ? "alpha" : "",
      learnable ? Scalar([](double x) { return x > 0 ? 0 : std::expm1(x); })
                : nullptr);
}

ReferenceFn Leaky(double alpha) {
  return Pointwise([=](double x) { return x > 0 ? x : alpha * x; },
                   [=](double x) { return x > 0 ? 1 : alpha; });
}

// Swish with a learnable beta, or (learnable = false) silu's fixed one.
ReferenceFn Swish(double beta, bool learnable = true) {
  auto f = [=](double x) { return x * SigmoidRef(beta * x); };
  auto df = [=](double x) {
    const double s = SigmoidRef(beta * x);
    return s + beta * x * s * (1 - s);
  };
  if (!learnable) return Pointwise(f, df);
  return Pointwise(f, df, "beta", [=](double x) {
    const double s = SigmoidRef(beta * x);
    return x * x * s * (1 - s);
  });
}

// PReLU with slope alpha[c] (0.25 when no weight), c along `axis` when alpha
// has more than one element. The gradient has the weight's shape ([] without
// one).
ReferenceFn Prelu(Shape shape, int axis, Shape alpha_shape) {
  return [=](const Values& x, const std::map<std::string, Values>& w,
             const Values& dy) {
    auto it = w.find("alpha");
    const Values alpha = it == w.end() ? Values{0.25} : it->second;
    const Split s = SplitAt(shape, axis);
    Reference r;
    Values grad(alpha.size(), 0.0);
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t c = alpha.size() == 1 ? 0 : (i / s.inner) % s.channels;
      r.y.push_back(x[i] > 0 ? x[i] : alpha[c] * x[i]);
      r.dx.push_back(dy[i] * (x[i] > 0 ? 1 : alpha[c]));
      if (!(x[i] > 0)) grad[c] += dy[i] * x[i];
    }
    r.grads["alpha"] = {it == w.end() ? Shape{} : alpha_shape, grad};
    return r;
  };
}

// Group maxout: unit j of each [outer, ·, inner] slice is the first maximum
// of entries j·k .. j·k+k-1 along `axis`; dy goes to that entry.
ReferenceFn MaxoutGroups(Shape shape, int axis, int k) {
  return [=](const Values& x, const std::map<std::string, Values>&,
             const Values& dy) {
    const Split s = SplitAt(shape, axis);
    const int64_t units = s.channels / k;
    Reference r;
    r.y.assign(s.outer * units * s.inner, 0.0);
    r.dx.assign(x.size(), 0.0);
    for (int64_t o = 0; o < s.outer; ++o) {
      for (int64_t j = 0; j < units; ++j) {
        for (int64_t i = 0; i < s.inner; ++i) {
          const int64_t base = (o * s.channels + j * k) * s.inner + i;
          int64_t best = base;
          for (int64_t p = 1; p < k; ++p) {
            if (x[base + p * s.inner] > x[best]) best = base + p * s.inner;
          }
          const int64_t out = (o * units + j) * s.inner + i;
          r.y[out] = x[best];
          r.dx[best] = dy[out];
        }
      }
    }
    return r;
  };
}

// Affine maxout: z = x·Wᵀ + b ([rows, m]), then groups of k along m.
ReferenceFn MaxoutAffine(int64_t rows, int64_t in, int64_t m, int k) {
  return [=](const Values& x, const std::map<std::string, Values>& w,
             const Values& dy) {
    const Values& weight = w.at("weight");
    const Values& bias = w.at("bias");
    const int64_t units = m / k;
    Reference r;
    r.y.assign(rows * units, 0.0);
    r.dx.assign(rows * in, 0.0);
    Values dw(m * in, 0.0), db(m, 0.0);
    for (int64_t row = 0; row < rows; ++row) {
      Values z(m);
      for (int64_t q = 0; q < m; ++q) {
        z[q] = bias[q];
        for (int64_t i = 0; i < in; ++i) {
          z[q] += x[row * in + i] * weight[q * in + i];
        }
      }
      for (int64_t j = 0; j < units; ++j) {
        int64_t best = j * k;
        for (int64_t p = 1; p < k; ++p) {
          if (z[j * k + p] > z[best]) best = j * k + p;
        }
        const double g = dy[row * units + j];
        r.y[row * units + j] = z[best];
        db[best] += g;
        for (int64_t i = 0; i < in; ++i) {
          r.dx[row * in + i] += g * weight[best * in + i];
          dw[best * in + i] += g * x[row * in + i];
        }
      }
    }
    r.grads["weight"] = {{m, in}, dw};
    r.grads["bias"] = {{m}, db};
    return r;
  };
}

// Dice per the spec: statistics of the batch (training) or the running ones.
ReferenceFn Dice(Shape shape, int axis, bool training, double epsilon) {
  return [=](const Values& x, const std::map<std::string, Values>& w,
             const Values& dy) {
    const Split s = SplitAt(shape, axis);
    const int64_t C = s.channels;
    auto channel = [&](size_t i) { return (i / s.inner) % C; };
    auto weight = [&](const std::string& name) {
      auto it = w.find(name);
      return it == w.end() ? Values(C, 0.0) : it->second;
    };
    const Values alpha = weight("alpha");
    Values mean(C, 0.0), var(C, 0.0);
    if (training) {
      const double n = static_cast<double>(s.outer * s.inner);
      for (size_t i = 0; i < x.size(); ++i) mean[channel(i)] += x[i] / n;
      for (size_t i = 0; i < x.size(); ++i) {
        const double d = x[i] - mean[channel(i)];
        var[channel(i)] += d * d / n;
      }
    } else {
      mean = weight("running_mean");
      var = weight("running_var");
    }
    Reference r;
    Values z(x.size()), g(x.size()), mean_g(C, 0.0), mean_gz(C, 0.0),
        dalpha(C, 0.0);
    const double n = static_cast<double>(s.outer * s.inner);
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t c = channel(i);
      const double rc = std::sqrt(var[c] + epsilon);
      z[i] = (x[i] - mean[c]) / rc;
      const double p = SigmoidRef(z[i]);
      r.y.push_back(x[i] * (alpha[c] + (1 - alpha[c]) * p));
      g[i] = dy[i] * x[i] * (1 - alpha[c]) * p * (1 - p);
      mean_g[c] += g[i] / n;
      mean_gz[c] += g[i] * z[i] / n;
      dalpha[c] += dy[i] * x[i] * (1 - p);
    }
    for (size_t i = 0; i < x.size(); ++i) {
      const size_t c = channel(i);
      const double rc = std::sqrt(var[c] + epsilon);
      const double p = SigmoidRef(z[i]);
      const double direct = dy[i] * (alpha[c] + (1 - alpha[c]) * p);
      r.dx.push_back(training
                         ? direct + (g[i] - mean_g[c] - z[i] * mean_gz[c]) / rc
                         : direct + g[i] / rc);
    }
    if (training) {
      r.extras["batch_mean"] = {{C}, mean};
      r.extras["batch_var"] = {{C}, var};
    }
    r.grads["alpha"] = {{C}, dalpha};
    return r;
  };
}

Case Elementwise(std::string label, std::string name, ReferenceFn reference,
                 std::map<std::string, pb::Param> params = {}) {
  Case c;
  c.label = std::move(label);
  c.name = std::move(name);
  c.params = std::move(params);
  c.shape = {static_cast<int64_t>(kX.size())};
  c.x = kX;
  c.out_shape = c.shape;
  c.reference = std::move(reference);
  return c;
}

// A gated unit on a [2, 6] input along the last axis: a = columns 0-2, b =
// columns 3-5; y = a·g(b) [2, 3], da = dy·g(b), db = dy·a·g'(b).
Case Gated(std::string name, std::function<double(double)> g,
           std::function<double(double)> dg) {
  Case c;
  c.label = name;
  c.name = std::move(name);
  c.shape = {2, 6};
  c.x = {0.5, -1.25, 2.0, -3.5, 0.375, 1.0, -0.75, 1.5, 0.25, 2.75, -0.5, 0.0};
  c.out_shape = {2, 3};
  c.reference = [=](const Values& x, const std::map<std::string, Values>&,
                    const Values& dy) {
    Reference r;
    r.dx.assign(x.size(), 0);
    for (int row = 0; row < 2; ++row) {
      for (int j = 0; j < 3; ++j) {
        const double a = x[row * 6 + j], b = x[row * 6 + 3 + j];
        const double d = dy[row * 3 + j];
        r.y.push_back(a * g(b));
        r.dx[row * 6 + j] = d * g(b);
        r.dx[row * 6 + 3 + j] = d * a * dg(b);
      }
    }
    return r;
  };
  return c;
}

std::vector<Case> BuildCases() {
  std::vector<Case> cases;
  cases.push_back(
      Elementwise("sigmoid", "sigmoid", Pointwise(SigmoidRef, [](double x) {
                    return SigmoidRef(x) * SigmoidRef(-x);
                  })));
  cases.push_back(Elementwise(
      "tanh", "tanh",
      Pointwise([](double x) { return std::tanh(x); },
                [](double x) { return 1 - std::tanh(x) * std::tanh(x); })));
  cases.push_back(
      Elementwise("relu", "relu",
                  Pointwise([](double x) { return x > 0 ? x : 0.0; },
                            [](double x) { return x > 0 ? 1.0 : 0.0; })));
  cases.push_back(Elementwise("elu", "elu", Elu(1.0)));
  cases.push_back(
      Elementwise("elu_alpha", "elu", Elu(0.75), {{"alpha", Number(0.75)}}));
  cases.push_back(
      Elementwise("selu", "selu", Elu(kSeluAlpha, kSeluLambda, false)));
  cases.push_back(Elementwise("leaky_relu", "leaky_relu", Leaky(0.01)));
  cases.push_back(Elementwise("leaky_relu_alpha", "leaky_relu", Leaky(0.125),
                              {{"alpha", Number(0.125)}}));

  cases.push_back(Elementwise("prelu", "prelu", Prelu({7}, 1, {})));
  {
    Case c = Elementwise("prelu_scalar", "prelu", Prelu({7}, 1, {}));
    c.weights["alpha"] = {{}, {0.125}};
    cases.push_back(c);
  }
  {
    Case c = Elementwise("prelu_one_element", "prelu", Prelu({7}, 1, {1}));
    c.weights["alpha"] = {{1}, {0.375}};
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "prelu_per_channel";
    c.name = "prelu";
    c.shape = {2, 3, 2};
    c.x = {-2, 1.5, -0.75, 0.25, -1, -0.5, 3, -2.5, 0, -0.125, 0.625, -4};
    c.out_shape = c.shape;
    c.weights["alpha"] = {{3}, {0.25, 0.5, -0.125}};
    c.reference = Prelu(c.shape, 1, {3});
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "prelu_channel_axis_last";
    c.name = "prelu";
    c.params["channel_axis"] = Number(-1);
    c.shape = {3, 4};
    c.x = {-2, 1.5, -0.75, 0.25, -1, -0.5, 3, -2.5, 0, -0.125, 0.625, -4};
    c.out_shape = c.shape;
    c.weights["alpha"] = {{4}, {0.5, 0.0, 0.25, 2.0}};
    c.reference = Prelu(c.shape, -1, {4});
    cases.push_back(c);
  }

  const auto gelu_d = [](double x) { return Phi(x) + x * phi(x); };
  cases.push_back(Elementwise("gelu", "gelu", Pointwise(GeluRef, gelu_d)));
  cases.push_back(Elementwise("gelu_none", "gelu", Pointwise(GeluRef, gelu_d),
                              {{"approximate", Text("none")}}));
  cases.push_back(Elementwise(
      "gelu_tanh", "gelu",
      Pointwise(GeluTanhRef,
                [](double x) {
                  const double k = std::sqrt(2 / std::numbers::pi);
                  const double t = std::tanh(k * (x + 0.044715 * x * x * x));
                  return 0.5 * (1 + t) +
                         0.5 * x * (1 - t * t) * k * (1 + 0.134145 * x * x);
                }),
      {{"approximate", Text("tanh")}}));
  cases.push_back(
      Elementwise("gelu_sigmoid", "gelu",
                  Pointwise([](double x) { return x * SigmoidRef(1.702 * x); },
                            [](double x) {
                              const double s = SigmoidRef(1.702 * x);
                              return s + 1.702 * x * s * (1 - s);
                            }),
                  {{"approximate", Text("sigmoid")}}));
  cases.push_back(Elementwise("swish", "swish", Swish(1.0)));
  cases.push_back(
      Elementwise("swish_beta", "swish", Swish(1.5), {{"beta", Number(1.5)}}));
  cases.push_back(Elementwise("swish_negative_beta", "swish", Swish(-0.5),
                              {{"beta", Number(-0.5)}}));
  cases.push_back(Elementwise("silu", "silu", Swish(1.0, false)));
  for (double beta : {1.0, 2.5}) {
    auto softplus = [=](double x) {
      const double t = beta * x;
      return (std::max(t, 0.0) + std::log1p(std::exp(-std::fabs(t)))) / beta;
    };
    auto sigmoid = [=](double x) { return SigmoidRef(beta * x); };
    cases.push_back(beta == 1.0 ? Elementwise("softplus", "softplus",
                                              Pointwise(softplus, sigmoid))
                                : Elementwise("softplus_beta", "softplus",
                                              Pointwise(softplus, sigmoid),
                                              {{"beta", Number(beta)}}));
  }
  cases.push_back(Elementwise("mish", "mish", Pointwise(MishRef, [](double x) {
                                const double t =
                                    std::tanh(std::log1p(std::exp(x)));
                                return t + x * SigmoidRef(x) * (1 - t * t);
                              })));
  {
    // The last group ties (2, 2, 2): the first entry takes the gradient.
    Case c;
    c.label = "maxout";
    c.name = "maxout";
    c.params["pieces"] = Number(3);
    c.shape = {2, 6};
    c.x = {1, -2, 0.5, -1, -0.25, -3, 4, 4.5, -1, 2, 2, 2};
    c.out_shape = {2, 2};
    c.reference = MaxoutGroups(c.shape, -1, 3);
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "maxout_defaults";
    c.name = "maxout";
    c.shape = {3, 4};
    c.x = {1, -2, 0.5, -1, -0.25, -3, 4, 4.5, -1, 2, 3, 2.5};
    c.out_shape = {3, 2};
    c.reference = MaxoutGroups(c.shape, -1, 2);
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "maxout_axis0";
    c.name = "maxout";
    c.params["pieces"] = Number(2);
    c.params["axis"] = Number(0);
    c.shape = {4, 3};
    c.x = {1, -2, 0.5, -1, -0.25, -3, 4, 4.5, -1, 2, 3, 2.5};
    c.out_shape = {2, 3};
    c.reference = MaxoutGroups(c.shape, 0, 2);
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "maxout_affine";
    c.name = "maxout";
    c.params["pieces"] = Number(2);
    c.shape = {2, 3};
    c.x = {1, -0.5, 2, -1.5, 0.25, 0.75};
    c.out_shape = {2, 2};
    c.weights["weight"] = {
        {4, 3},
        {0.5, -1, 0.25, -0.75, 0.5, 1, 1.5, 0.25, -0.5, -0.25, -1.25, 0.125}};
    c.weights["bias"] = {{4}, {0.125, -0.25, 0.5, 0.75}};
    c.reference = MaxoutAffine(2, 3, 4, 2);
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "dice_training";
    c.name = "dice";
    c.shape = {4, 2};
    c.x = {1, -2, 0.5, 0.25, -1.5, 3, 2, -0.75};
    c.out_shape = c.shape;
    c.weights["alpha"] = {{2}, {0.25, -0.5}};
    c.reference = Dice(c.shape, -1, true, 1e-8);
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "dice_axis0_epsilon";
    c.name = "dice";
    c.params["axis"] = Number(0);
    c.params["epsilon"] = Number(1e-3);
    c.params["training"] = Flag(true);
    c.shape = {2, 3};
    c.x = {1, -2, 0.5, 0.25, -1.5, 3};
    c.out_shape = c.shape;
    c.reference = Dice(c.shape, 0, true, 1e-3);
    cases.push_back(c);
  }
  {
    Case c;
    c.label = "dice_inference";
    c.name = "dice";
    c.params["training"] = Flag(false);
    c.shape = {3, 2};
    c.x = {1, -2, 0.5, 0.25, -1.5, 3};
    c.out_shape = c.shape;
    c.weights["alpha"] = {{2}, {0.25, 0.5}};
    c.weights["running_mean"] = {{2}, {0.5, -0.25}};
    c.weights["running_var"] = {{2}, {1.5, 0.75}};
    c.reference = Dice(c.shape, -1, false, 1e-8);
    cases.push_back(c);
  }
  cases.push_back(Elementwise(
      "relu6", "relu6",
      Pointwise([](double x) { return std::min(std::max(x, 0.0), 6.0); },
                [](double x) { return x > 0 && x <= 6 ? 1.0 : 0.0; })));
  cases.push_back(Elementwise(
      "hardsigmoid", "hardsigmoid",
      Pointwise(
          [](double x) { return std::min(std::max(x + 3, 0.0), 6.0) / 6; },
          [](double x) { return x > -3 && x <= 3 ? 1.0 / 6 : 0.0; })));
  cases.push_back(Elementwise(
      "hardswish", "hardswish",
      Pointwise(
          [](double x) { return x <= -3 ? 0.0
                                : x > 3 ? x
                                        : x * (x + 3) / 6; },
          [](double x) {
            return x <= -3 ? 0.0 : x > 3 ? 1.0 : (2 * x + 3) / 6;
          })));
  const auto swish = [](double b) { return b * SigmoidRef(b); };
  const auto dswish = [](double b) {
    const double s = SigmoidRef(b);
    return s + b * s * (1 - s);
  };
  cases.push_back(Gated("glu", SigmoidRef, [](double b) {
    return SigmoidRef(b) * SigmoidRef(-b);
  }));
  cases.push_back(Gated("swiglu", swish, dswish));
  cases.push_back(Gated("geglu", GeluRef, [](double b) {
    return Phi(b) + b * std::exp(-b * b / 2) / std::sqrt(2 * std::numbers::pi);
  }));
  cases.push_back(Gated(
      "reglu", [](double b) { return b > 0 ? b : 0.0; },
      [](double b) { return b > 0 ? 1.0 : 0.0; }));
  cases.push_back(Elementwise(
      "identity", "identity",
      Pointwise([](double x) { return x; }, [](double) { return 1.0; })));
  return cases;
}

}  // namespace

double SigmoidRef(double t) {
  return t >= 0 ? 1 / (1 + std::exp(-t)) : std::exp(t) / (1 + std::exp(t));
}
double GeluRef(double x) { return x * Phi(x); }
double GeluTanhRef(double x) {
  const double k = std::sqrt(2 / std::numbers::pi);
  return 0.5 * x * (1 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double MishRef(double x) { return x * std::tanh(std::log1p(std::exp(x))); }

const std::vector<Case>& AllCases() {
  static const auto* cases = new std::vector<Case>(BuildCases());
  return *cases;
}

const Case& FindCase(const std::string& label) {
  for (const Case& c : AllCases()) {
    if (c.label == label) return c;
  }
  ADD_FAILURE() << "no case " << label;
  return AllCases().front();
}

Values Upstream(size_t n) {
  Values dy;
  // -1 + 0.375·m for m in 0..8: dyadic, so exact in float32, and never 0.
  for (size_t i = 0; i < n; ++i) dy.push_back(-1.0 + 0.375 * ((i * 7) % 9));
  return dy;
}

pb::ActivationSpec SpecOf(const Case& c, pb::DataType dtype,
                          Encoding encoding) {
  pb::ActivationSpec spec;
  spec.set_name(c.name);
  for (const auto& [name, value] : c.params) {
    (*spec.mutable_params())[name] = value;
  }
  for (const auto& [name, w] : c.weights) {
    (*spec.mutable_weights())[name] =
        MakeTensor(w.values, w.shape, dtype, encoding);
  }
  return spec;
}

pb::ForwardRequest ForwardOf(const Case& c, pb::DataType dtype,
                             Encoding encoding) {
  pb::ForwardRequest request;
  *request.mutable_activation() = SpecOf(c, dtype, encoding);
  *request.mutable_input() = MakeTensor(c.x, c.shape, dtype, encoding);
  return request;
}

pb::BackwardRequest BackwardOf(const Case& c, pb::DataType dtype,
                               Encoding encoding, bool with_grad_output) {
  pb::BackwardRequest request;
  *request.mutable_activation() = SpecOf(c, dtype, encoding);
  *request.mutable_input() = MakeTensor(c.x, c.shape, dtype, encoding);
  if (with_grad_output) {
    int64_t n = 1;
    for (int64_t d : c.out_shape) n *= d;
    *request.mutable_grad_output() =
        MakeTensor(Upstream(n), c.out_shape, dtype, encoding);
  }
  return request;
}

Reference ReferenceOf(const Case& c, pb::DataType dtype,
                      bool with_grad_output) {
  int64_t n = 1;
  for (int64_t d : c.out_shape) n *= d;
  std::map<std::string, Values> weights;
  for (const auto& [name, w] : c.weights) {
    weights[name] = Rounded(w.values, dtype);
  }
  const Values dy = with_grad_output ? Rounded(Upstream(n), dtype)
                                     : Values(static_cast<size_t>(n), 1.0);
  return c.reference(Rounded(c.x, dtype), weights, dy);
}

}  // namespace actd::service_test
