// Helpers shared by the compute-core tests: typed requests built from plain
// vectors, run through RunForward / RunBackward, with the results copied back
// into vectors; the spec's accuracy bounds; seeded inputs (random normals and
// the spec's edge list); and a mismatch collector that reports the first few
// failures with the input, the value, the reference and the bound.
#ifndef ACTD_TESTS_CORE_HARNESS_H_
#define ACTD_TESTS_CORE_HARNESS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/activation.h"
#include "server/core/tensor.h"

namespace actd::testing {

template <typename T>
constexpr DType kDType = sizeof(T) == 4 ? DType::kFloat32 : DType::kFloat64;

template <typename T>
const char* TypeName() {
  return sizeof(T) == 4 ? "float32" : "float64";
}

template <typename T>
struct Tensor {
  Shape shape;
  std::vector<T> values;
};

// One call to the core, owning all its data.
template <typename T>
struct Request {
  std::string name;
  ParamMap params;
  std::map<std::string, Tensor<T>> weights;
  Tensor<T> input;
  std::optional<Tensor<T>> grad_output;
  std::optional<Tensor<T>> output;
  const ComputeContext* compute = nullptr;
};

// The results by name ("output", "grad_input", "alpha", ...).
template <typename T>
struct Results {
  std::map<std::string, Tensor<T>> tensors;
  bool has(const std::string& name) const { return tensors.count(name) > 0; }
  const std::vector<T>& operator[](const std::string& name) const {
    return tensors.at(name).values;
  }
  const Shape& shape(const std::string& name) const {
    return tensors.at(name).shape;
  }
};

template <typename T>
ConstTensorView ViewOf(const Tensor<T>& t) {
  return ConstTensorView{kDType<T>, t.values.data(), t.shape};
}

// Runs the request forward (backward = false) or backward. Every buffer the
// core returns must have the input's dtype; otherwise INTERNAL.
template <typename T>
absl::StatusOr<Results<T>> Run(const Request<T>& r, bool backward) {
  ActivationRequest req;
  req.name = r.name;
  req.params = &r.params;
  for (const auto& [name, w] : r.weights) req.weights[name] = ViewOf(w);
  req.input = ViewOf(r.input);
  ConstTensorView dy, y;
  if (r.grad_output) {
    dy = ViewOf(*r.grad_output);
    req.grad_output = &dy;
  }
  if (r.output) {
    y = ViewOf(*r.output);
    req.output = &y;
  }
  req.compute = r.compute;
  BufferSink sink;
  absl::Status s = backward ? RunBackward(req, sink) : RunForward(req, sink);
  if (!s.ok()) return s;
  Results<T> out;
  for (const BufferSink::Buffer& b : sink.buffers()) {
    if (b.dtype != kDType<T>) {
      return absl::InternalError("result " + b.name + " has the wrong dtype");
    }
    const T* p = b.as<T>();
    out.tensors[b.name] = {b.shape,
                           std::vector<T>(p, p + NumElements(b.shape))};
  }
  return out;
}

template <typename T>
absl::StatusOr<Results<T>> Forward(const Request<T>& r) {
  return Run(r, false);
}
template <typename T>
absl::StatusOr<Results<T>> Backward(const Request<T>& r) {
  return Run(r, true);
}

// The spec's accuracy table.
template <typename T>
struct Tolerance;
template <>
struct Tolerance<float> {
  static constexpr long double kForward = 2e-6L, kForwardAbs = 1e-37L;
  static constexpr long double kBackward = 1e-5L, kBackwardDy = 2e-7L;
  static constexpr long double kSum = 1e-5L;
};
template <>
struct Tolerance<double> {
  static constexpr long double kForward = 1e-14L, kForwardAbs = 1e-300L;
  static constexpr long double kBackward = 1e-13L, kBackwardDy = 1e-15L;
  static constexpr long double kSum = 1e-12L;
};

// Forward bound: tol·|f|·max(1, κ/8) + abs with κ = |x·f'/f|, written as
// tol·max(|f|, |x·f'|/8) so that f = 0 needs no division.
template <typename T>
long double ForwardBound(long double x, long double f, long double df) {
  return Tolerance<T>::kForward *
             std::max(std::fabs(f), std::fabs(x * df) / 8) +
         Tolerance<T>::kForwardAbs;
}
// Backward bound for dx = dy·f': tol·|dy|·max(|f'|, |x·f''|/8) + c·|dy|
// (the spec's |ref|·max(1, κ'/8) with κ' = |x·f''/f'|).
template <typename T>
long double BackwardBound(long double x, long double dy, long double df,
                          long double d2f) {
  return Tolerance<T>::kBackward * std::fabs(dy) *
             std::max(std::fabs(df), std::fabs(x * d2f) / 8) +
         Tolerance<T>::kBackwardDy * std::fabs(dy);
}

// Whether `got` is within `bound` of `want`, where `want` is first rounded to
// T: a result beyond T's range must be the infinity of its sign, NaN must be
// NaN, and ±0 are equal.
template <typename T>
bool Close(T got, long double want, long double bound) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isnan(got)) return false;
  const T rounded = static_cast<T>(want);
  if (std::isinf(rounded)) return got == rounded;
  if (std::isinf(got)) return false;
  return std::fabs(static_cast<long double>(got) - want) <= bound;
}

// Collects mismatches; on destruction reports the count and the first few as
// one test failure, each with the context, x, got, want and bound. It also
// records the largest |got - want| / bound seen (the headroom left) as the test
// property `worst_error_over_bound_<what>`, shown in --gtest_output=xml.
class Mismatches {
 public:
  explicit Mismatches(std::string what) : what_(std::move(what)) {}
  ~Mismatches();
  // Records a failure unless Close(got, want, bound).
  template <typename T>
  bool Check(const std::string& where, long double x, T got, long double want,
             long double bound) {
    ++checked_;
    if (bound > 0 && std::isfinite(want) && std::isfinite(got)) {
      worst_ = std::max(
          worst_, std::fabs(static_cast<long double>(got) - want) / bound);
    }
    if (Close(got, want, bound)) return true;
    Add(where, x, static_cast<long double>(got), want, bound);
    return false;
  }
  void Add(const std::string& where, long double x, long double got,
           long double want, long double bound);
  int failures() const { return failures_; }
  int checked() const { return checked_; }

 private:
  std::string what_;
  std::vector<std::string> first_;
  int failures_ = 0;
  int checked_ = 0;
  long double worst_ = 0;
};

// The spec's edge inputs for T: signed zeros, infinities, NaN, subnormals,
// exp over/underflow edges, the GELU tails, tiny and huge values.
template <typename T>
std::vector<T> EdgeInputs();
// Seeded normals at several scales, as T.
template <typename T>
std::vector<T> RandomNormals(uint64_t seed, int per_scale);
// Edge inputs followed by random normals and a dense grid over [-20, 20], in
// an order that puts edge values in every packet lane position (the count is
// not a multiple of any packet).
template <typename T>
std::vector<T> AccuracyInputs(uint64_t seed);
// Only the finite ones.
template <typename T>
std::vector<T> Finite(std::vector<T> v);
// Seeded normal upstream gradients of the given length.
template <typename T>
std::vector<T> RandomGrads(uint64_t seed, size_t n);

// Formats a number with enough digits to reproduce it.
std::string Num(long double v);

}  // namespace actd::testing

#endif  // ACTD_TESTS_CORE_HARNESS_H_
