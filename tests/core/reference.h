// Long double references for the element-wise activations (and PReLU with its
// default shared slope): f, f' and f'' in forms that keep relative precision
// (stable sigmoid, expm1, erfc, softplus, sech² through sigmoids), the limits
// at ±infinity the spec prescribes, and each learnable scalar's per-element
// gradient term. Written independently of the kernels, from the spec's
// formulas.
#ifndef ACTD_TESTS_CORE_REFERENCE_H_
#define ACTD_TESTS_CORE_REFERENCE_H_

#include <functional>
#include <string>
#include <vector>

#include "server/core/activation.h"

namespace actd::testing {

using Ld = long double;

struct Reference {
  std::string label;  // "elu(alpha=0.5)"
  std::string name;   // the registry name
  ParamMap params;
  std::function<Ld(Ld)> f, df, d2f;  // finite x only
  Ld f_neg_inf, f_pos_inf, df_neg_inf, df_pos_inf;
  // The learnable scalar (a 0-d gradient named `learnable`), with the
  // per-element term of dL/dparam for dy = 1.
  std::string learnable;
  std::function<Ld(Ld)> dparam;
  bool kink_at_zero = false;
  bool piecewise = false;  // pieces meet at 0 (not C² there)
  bool defaults = false;   // all parameters at their defaults
  // y -> f'(y) for the activations with a from-output backward, and its
  // derivative in y (for the conditioning of that form); null otherwise.
  std::function<Ld(Ld)> df_from_y, d2f_from_y;

  Ld F(Ld x) const;   // handles ±inf and NaN
  Ld DF(Ld x) const;  // handles ±inf and NaN
};

// Every element-wise activation, with default and non-default parameters.
const std::vector<Reference>& ElementwiseReferences();

// σ(x) in long double without cancellation on either side.
Ld Sigmoid(Ld x);
// σ(x)·σ(-x) without cancellation.
Ld SigmoidProduct(Ld x);

}  // namespace actd::testing

#endif  // ACTD_TESTS_CORE_REFERENCE_H_
