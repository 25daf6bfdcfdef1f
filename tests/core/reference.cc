// The long double references (see reference.h). x86-64 long double has a
// 64-bit significand, about 1e-19 relative: three orders of magnitude below the
// float64 bound of 1e-14, so the reference's own error is negligible wherever
// the forms below avoid cancellation.
#include "tests/core/reference.h"

#include <cmath>
#include <limits>

namespace actd::testing {
namespace {

constexpr Ld kInf = std::numeric_limits<Ld>::infinity();
constexpr Ld kSeluLambda = 1.0507009873554804934193349852946L;
constexpr Ld kSeluAlpha = 1.6732632423543772848170429916717L;
constexpr Ld kSqrt2OverPi = 0.79788456080286535587989211986876L;
constexpr Ld kInvSqrt2Pi = 0.39894228040143267793994605993438L;
constexpr Ld kSqrtHalf = 0.70710678118654752440084436210485L;

Reference Base(std::string label, std::string name, ParamMap params = {}) {
  Reference r;
  r.label = std::move(label);
  r.name = std::move(name);
  r.defaults = params.empty();
  r.params = std::move(params);
  return r;
}

Reference SigmoidRef() {
  Reference r = Base("sigmoid", "sigmoid");
  r.f = [](Ld x) { return Sigmoid(x); };
  r.df = [](Ld x) { return SigmoidProduct(x); };
  r.d2f = [](Ld x) { return -SigmoidProduct(x) * std::tanh(x / 2); };
  r.f_neg_inf = 0, r.f_pos_inf = 1, r.df_neg_inf = 0, r.df_pos_inf = 0;
  r.df_from_y = [](Ld y) { return y * (1 - y); };
  r.d2f_from_y = [](Ld y) { return 1 - 2 * y; };
  return r;
}

Reference TanhRef() {
  Reference r = Base("tanh", "tanh");
  r.f = [](Ld x) { return std::tanh(x); };
  // 1 - tanh² = 4σ(2x)σ(-2x), exact in the tails.
  r.df = [](Ld x) { return 4 * SigmoidProduct(2 * x); };
  r.d2f = [](Ld x) { return -8 * std::tanh(x) * SigmoidProduct(2 * x); };
  r.f_neg_inf = -1, r.f_pos_inf = 1, r.df_neg_inf = 0, r.df_pos_inf = 0;
  r.df_from_y = [](Ld y) { return (1 - y) * (1 + y); };
  r.d2f_from_y = [](Ld y) { return -2 * y; };
  return r;
}

Reference ReluRef() {
  Reference r = Base("relu", "relu");
  r.f = [](Ld x) { return x > 0 ? x : 0; };
  r.df = [](Ld x) -> Ld { return x > 0 ? 1 : 0; };
  r.d2f = [](Ld) -> Ld { return 0; };
  r.f_neg_inf = 0, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  r.kink_at_zero = true;
  r.piecewise = true;
  r.df_from_y = [](Ld y) -> Ld { return y > 0 ? 1 : 0; };
  r.d2f_from_y = [](Ld) -> Ld { return 0; };
  return r;
}

// ELU (scale 1) and SELU (scale λ, alpha α).
Reference EluRef(std::string label, std::string name, ParamMap params, Ld scale,
                 Ld alpha, bool learnable) {
  Reference r = Base(std::move(label), std::move(name), std::move(params));
  r.f = [=](Ld x) { return x > 0 ? scale * x : scale * alpha * std::expm1(x); };
  r.df = [=](Ld x) { return x > 0 ? scale : scale * alpha * std::exp(x); };
  r.d2f = [=](Ld x) -> Ld { return x > 0 ? 0 : scale * alpha * std::exp(x); };
  r.f_neg_inf = -scale * alpha, r.f_pos_inf = kInf;
  r.df_neg_inf = 0, r.df_pos_inf = scale;
  if (learnable) {
    r.learnable = "alpha";
    r.dparam = [](Ld x) -> Ld { return x > 0 ? 0 : std::expm1(x); };
  }
  r.kink_at_zero = !(scale == 1 && alpha == 1);
  r.piecewise = true;
  // For x <= 0, f' = scale·alpha·e^x = y + scale·alpha.
  r.df_from_y = [=](Ld y) { return y > 0 ? scale : y + scale * alpha; };
  r.d2f_from_y = [=](Ld y) -> Ld { return y > 0 ? 0 : 1; };
  return r;
}

Reference LeakyRef(std::string label, std::string name, ParamMap params,
                   Ld alpha, bool learnable) {
  Reference r = Base(std::move(label), std::move(name), std::move(params));
  r.f = [=](Ld x) { return x > 0 ? x : alpha * x; };
  r.df = [=](Ld x) -> Ld { return x > 0 ? 1 : alpha; };
  r.d2f = [](Ld) -> Ld { return 0; };
  r.f_neg_inf = -kInf, r.f_pos_inf = kInf;
  r.df_neg_inf = alpha, r.df_pos_inf = 1;
  r.kink_at_zero = true;
  r.piecewise = true;
  if (learnable) {
    r.learnable = "alpha";
    r.dparam = [](Ld x) -> Ld { return x > 0 ? 0 : x; };
  } else {
    r.df_from_y = [=](Ld y) -> Ld { return y > 0 ? 1 : alpha; };
    r.d2f_from_y = [](Ld) -> Ld { return 0; };
  }
  return r;
}

Reference GeluErfRef(std::string label, ParamMap params) {
  Reference r = Base(std::move(label), "gelu", std::move(params));
  auto cdf = [](Ld x) { return std::erfc(-x * kSqrtHalf) / 2; };
  auto pdf = [](Ld x) { return kInvSqrt2Pi * std::exp(-x * x / 2); };
  r.f = [=](Ld x) { return x * cdf(x); };
  r.df = [=](Ld x) { return cdf(x) + x * pdf(x); };
  r.d2f = [=](Ld x) { return pdf(x) * (2 - x * x); };
  r.f_neg_inf = -0.0L, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  return r;
}

Reference GeluTanhRef() {
  Reference r = Base("gelu(approximate=tanh)", "gelu",
                     {{"approximate", ParamValue(std::string("tanh"))}});
  constexpr Ld k = 0.044715L;
  auto two_u = [](Ld x) { return 2 * kSqrt2OverPi * (x + k * x * x * x); };
  auto du = [](Ld x) { return kSqrt2OverPi * (1 + 3 * k * x * x); };
  r.f = [=](Ld x) { return x * Sigmoid(two_u(x)); };
  // s = σ(2u), s' = 2u'·s(1-s).
  r.df = [=](Ld x) {
    return Sigmoid(two_u(x)) + x * 2 * du(x) * SigmoidProduct(two_u(x));
  };
  r.d2f = [=](Ld x) {
    const Ld s = Sigmoid(two_u(x)), p = SigmoidProduct(two_u(x));
    const Ld ds = 2 * du(x) * p;
    const Ld dp = 2 * du(x) * p * -std::tanh(two_u(x) / 2);  // p·(1-2s)·2u'
    const Ld d2u = 6 * kSqrt2OverPi * k * x;
    const Ld d2s = 2 * (d2u * p + du(x) * dp);
    (void)s;
    return 2 * ds + x * d2s;
  };
  r.f_neg_inf = -0.0L, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  return r;
}

Reference SwishRef(std::string label, std::string name, ParamMap params,
                   Ld beta, bool learnable) {
  Reference r = Base(std::move(label), std::move(name), std::move(params));
  r.f = [=](Ld x) { return x * Sigmoid(beta * x); };
  r.df = [=](Ld x) {
    return Sigmoid(beta * x) + beta * x * SigmoidProduct(beta * x);
  };
  // β·s(1-s)·(2 + βx(1-2s)), 1 - 2s = -tanh(βx/2).
  r.d2f = [=](Ld x) {
    return beta * SigmoidProduct(beta * x) *
           (2 - beta * x * std::tanh(beta * x / 2));
  };
  if (beta > 0) {
    r.f_neg_inf = -0.0L, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  } else if (beta < 0) {
    r.f_neg_inf = -kInf, r.f_pos_inf = 0, r.df_neg_inf = 1, r.df_pos_inf = 0;
  } else {
    r.f_neg_inf = -kInf, r.f_pos_inf = kInf, r.df_neg_inf = 0.5L,
    r.df_pos_inf = 0.5L;
  }
  if (learnable) {
    r.learnable = "beta";
    r.dparam = [=](Ld x) { return x * x * SigmoidProduct(beta * x); };
  }
  return r;
}

Reference MishRef() {
  Reference r = Base("mish", "mish");
  auto softplus = [](Ld x) {
    return std::max<Ld>(x, 0) + std::log1p(std::exp(-std::fabs(x)));
  };
  r.f = [=](Ld x) { return x * std::tanh(softplus(x)); };
  // 1 - t² = 4σ(2sp)σ(-2sp): no cancellation for large x.
  r.df = [=](Ld x) {
    const Ld sp = softplus(x);
    return std::tanh(sp) + x * Sigmoid(x) * 4 * SigmoidProduct(2 * sp);
  };
  // f'' = σ·S·(2 + x(1-σ) - 2xσt), S = 1 - t², dt/dx = S·σ.
  r.d2f = [=](Ld x) {
    const Ld sp = softplus(x), t = std::tanh(sp);
    const Ld s = Sigmoid(x), S = 4 * SigmoidProduct(2 * sp);
    return s * S * (2 + x * Sigmoid(-x) - 2 * x * s * t);
  };
  r.f_neg_inf = -0.0L, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  return r;
}

// Softplus (1/β)·log(1 + e^{βx}) in its overflow-free form.
Reference SoftplusRef(std::string label, ParamMap params, Ld beta) {
  Reference r = Base(std::move(label), "softplus", std::move(params));
  r.f = [=](Ld x) {
    const Ld t = beta * x;
    return (std::max<Ld>(t, 0) + std::log1p(std::exp(-std::fabs(t)))) / beta;
  };
  r.df = [=](Ld x) { return Sigmoid(beta * x); };
  r.d2f = [=](Ld x) { return beta * SigmoidProduct(beta * x); };
  r.f_neg_inf = 0, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  return r;
}

// relu6, hardsigmoid and hardswish: piecewise, with the negative side's slope
// at each kink (their kinks are listed in the registry's properties).
Reference Relu6Ref() {
  Reference r = Base("relu6", "relu6");
  r.f = [](Ld x) { return std::min<Ld>(std::max<Ld>(x, 0), 6); };
  r.df = [](Ld x) -> Ld { return x > 0 && x <= 6 ? 1 : 0; };
  r.d2f = [](Ld) -> Ld { return 0; };
  r.f_neg_inf = 0, r.f_pos_inf = 6, r.df_neg_inf = 0, r.df_pos_inf = 0;
  r.kink_at_zero = true;
  r.piecewise = true;
  return r;
}

Reference HardSigmoidRef() {
  Reference r = Base("hardsigmoid", "hardsigmoid");
  r.f = [](Ld x) { return std::min<Ld>(std::max<Ld>(x + 3, 0), 6) / 6; };
  r.df = [](Ld x) -> Ld { return x > -3 && x <= 3 ? 1.0L / 6 : 0; };
  r.d2f = [](Ld) -> Ld { return 0; };
  r.f_neg_inf = 0, r.f_pos_inf = 1, r.df_neg_inf = 0, r.df_pos_inf = 0;
  r.piecewise = true;
  return r;
}

Reference HardSwishRef() {
  Reference r = Base("hardswish", "hardswish");
  r.f = [](Ld x) -> Ld { return x <= -3 ? 0 : x > 3 ? x : x * (x + 3) / 6; };
  r.df = [](Ld x) -> Ld { return x <= -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6; };
  r.d2f = [](Ld x) -> Ld { return x > -3 && x <= 3 ? 1.0L / 3 : 0; };
  r.f_neg_inf = 0, r.f_pos_inf = kInf, r.df_neg_inf = 0, r.df_pos_inf = 1;
  r.piecewise = true;
  return r;
}

Reference IdentityRef() {
  Reference r = Base("identity", "identity");
  r.f = [](Ld x) { return x; };
  r.df = [](Ld) -> Ld { return 1; };
  r.d2f = [](Ld) -> Ld { return 0; };
  r.f_neg_inf = -kInf, r.f_pos_inf = kInf, r.df_neg_inf = 1, r.df_pos_inf = 1;
  r.df_from_y = [](Ld) -> Ld { return 1; };
  r.d2f_from_y = [](Ld) -> Ld { return 0; };
  return r;
}

ParamMap Num(const char* name, double v) { return {{name, ParamValue(v)}}; }

}  // namespace

Ld Sigmoid(Ld x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const Ld e = std::exp(x);
  return e / (1 + e);
}

Ld SigmoidProduct(Ld x) {
  const Ld e = std::exp(-std::fabs(x));
  return e / ((1 + e) * (1 + e));
}

Ld Reference::F(Ld x) const {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x < 0 ? f_neg_inf : f_pos_inf;
  return f(x);
}

Ld Reference::DF(Ld x) const {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x < 0 ? df_neg_inf : df_pos_inf;
  return df(x);
}

const std::vector<Reference>& ElementwiseReferences() {
  static const auto* refs = new std::vector<Reference>{
      SigmoidRef(),
      TanhRef(),
      ReluRef(),
      EluRef("elu", "elu", {}, 1, 1, true),
      EluRef("elu(alpha=0.5)", "elu", Num("alpha", 0.5), 1, 0.5L, true),
      EluRef("elu(alpha=2.5)", "elu", Num("alpha", 2.5), 1, 2.5L, true),
      EluRef("elu(alpha=0)", "elu", Num("alpha", 0), 1, 0, true),
      EluRef("selu", "selu", {}, kSeluLambda, kSeluAlpha, false),
      LeakyRef("leaky_relu", "leaky_relu", {}, 0.01, false),
      LeakyRef("leaky_relu(alpha=0.2)", "leaky_relu", Num("alpha", 0.2), 0.2,
               false),
      LeakyRef("prelu", "prelu", {}, 0.25L, true),
      GeluErfRef("gelu", {}),
      GeluErfRef("gelu(approximate=none)",
                 {{"approximate", ParamValue(std::string("none"))}}),
      GeluTanhRef(),
      SwishRef("gelu(approximate=sigmoid)", "gelu",
               {{"approximate", ParamValue(std::string("sigmoid"))}}, 1.702,
               false),
      SwishRef("swish", "swish", {}, 1, true),
      SwishRef("swish(beta=1.5)", "swish", Num("beta", 1.5), 1.5L, true),
      SwishRef("swish(beta=-0.75)", "swish", Num("beta", -0.75), -0.75L, true),
      SwishRef("swish(beta=0)", "swish", Num("beta", 0), 0, true),
      SwishRef("silu", "silu", {}, 1, false),
      MishRef(),
      SoftplusRef("softplus", {}, 1),
      SoftplusRef("softplus(beta=2.5)", Num("beta", 2.5), 2.5L),
      SoftplusRef("softplus(beta=0.125)", Num("beta", 0.125), 0.125L),
      Relu6Ref(),
      HardSigmoidRef(),
      HardSwishRef(),
      IdentityRef(),
  };
  return *refs;
}

}  // namespace actd::testing
