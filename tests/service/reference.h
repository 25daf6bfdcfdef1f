// Double-precision references for every activation, written straight from the
// formulas of the spec (no shared code with the server), and the table of
// activation configurations the service tests evaluate: each one a name,
// parameters, weights, an input and the reference that predicts its Forward
// and Backward responses.
#ifndef ACTD_TESTS_SERVICE_REFERENCE_H_
#define ACTD_TESTS_SERVICE_REFERENCE_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/service/harness.h"

namespace actd::service_test {

struct ExpectedTensor {
  Shape shape;
  Values values;
};

// What the service should answer for one input.
struct Reference {
  Values y;                                      // Forward output
  std::map<std::string, ExpectedTensor> extras;  // Forward extras
  Values dx;                                     // Backward grad_input
  std::map<std::string, ExpectedTensor> grads;   // Backward grad_params
};

// x and the weights (already as the dtype holds them) and dy (ones when the
// request has no grad_output) -> the reference.
using ReferenceFn = std::function<Reference(
    const Values& x, const std::map<std::string, Values>& weights,
    const Values& dy)>;

struct WeightValue {
  Shape shape;
  Values values;
};

// One activation configuration.
struct Case {
  std::string label;  // unique, usable in a test name
  std::string name;   // the activation
  std::map<std::string, pb::Param> params;
  std::map<std::string, WeightValue> weights;
  Shape shape;      // of the input
  Values x;         // the input
  Shape out_shape;  // of the output
  ReferenceFn reference;
};

// Every configuration: each of the 13 activations with its defaults, plus
// parameter and weight variants.
const std::vector<Case>& AllCases();
// The case labelled `label` (fails the test and returns the first when
// absent).
const Case& FindCase(const std::string& label);

// A deterministic upstream gradient of n elements, none of them zero.
Values Upstream(size_t n);

// The spec for `c` with weights in `dtype` and `encoding`.
pb::ActivationSpec SpecOf(const Case& c, pb::DataType dtype, Encoding encoding);
pb::ForwardRequest ForwardOf(const Case& c, pb::DataType dtype,
                             Encoding encoding);
// With `with_grad_output` the request carries Upstream(); else ones apply.
pb::BackwardRequest BackwardOf(const Case& c, pb::DataType dtype,
                               Encoding encoding, bool with_grad_output);
// The reference for `c` in `dtype`, with dy = Upstream() or ones.
Reference ReferenceOf(const Case& c, pb::DataType dtype, bool with_grad_output);

// Scalar references, exposed for the tests that build their own inputs.
double SigmoidRef(double t);
double GeluRef(double x);      // exact, x·Φ(x)
double GeluTanhRef(double x);  // the tanh approximation
double MishRef(double x);

}  // namespace actd::service_test

#endif  // ACTD_TESTS_SERVICE_REFERENCE_H_
