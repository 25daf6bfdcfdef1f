// What the rows need for 16-bit tensors: the element-wise ops by element type
// (OpsOf: float and double, and bfloat16 and float16, whose loops in
// half_loops.h widen on load, run the float32 kernel and round once on
// store), the dtype dispatch, the type of parameter gradients (float32 for
// 16-bit inputs, accumulated in float64), and whole-call widening for the rows
// that compute only in float32 or float64.
#ifndef ACTD_SERVER_CORE_HALF_OPS_H_
#define ACTD_SERVER_CORE_HALF_OPS_H_

#include <cstdint>
#include <type_traits>

#include "absl/status/status.h"
#include "server/core/activation.h"
#include "server/core/half.h"
#include "server/core/kernel_table.h"
#include "server/core/tensor.h"

namespace actd {

template <typename T>
inline constexpr bool kIs16Bit =
    std::is_same_v<T, BFloat16> || std::is_same_v<T, Float16>;

// The type in which a row returns parameter gradients for inputs of type T:
// float32 for the 16-bit types (accumulated in float64), T otherwise.
template <typename T>
using GradOf = std::conditional_t<kIs16Bit<T>, float, T>;
inline DType GradDType(DType dtype) {
  return Is16Bit(dtype) ? DType::kFloat32 : dtype;
}

// Array conversions with the active set, typed by the 16-bit type.
template <typename H>
void Widen(const H* from, float* to, int64_t n) {
  const HalfConversions& c = Conversions();
  const auto* bits = reinterpret_cast<const uint16_t*>(from);
  if constexpr (std::is_same_v<H, BFloat16>) {
    c.widen_bf16(bits, to, n);
  } else {
    c.widen_f16(bits, to, n);
  }
}
template <typename H>
void Narrow(const float* from, H* to, int64_t n) {
  const HalfConversions& c = Conversions();
  auto* bits = reinterpret_cast<uint16_t*>(to);
  if constexpr (std::is_same_v<H, BFloat16>) {
    c.narrow_bf16(from, bits, n);
  } else {
    c.narrow_f16(from, bits, n);
  }
}

// The ops of kernel `id` on elements of type T.
template <typename T>
const ElementwiseOps<T>& OpsOf(KernelId id) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    return Kernels().bf16[static_cast<int>(id)];
  } else if constexpr (std::is_same_v<T, Float16>) {
    return Kernels().f16[static_cast<int>(id)];
  } else {
    return Kernels().ops<T>(id);
  }
}

// Calls f(float{}), f(double{}), f(BFloat16{}) or f(Float16{}) for the dtype.
template <typename F>
void WithAnyType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat32:
      f(float{});
      break;
    case DType::kFloat64:
      f(double{});
      break;
    case DType::kBFloat16:
      f(BFloat16{});
      break;
    case DType::kFloat16:
      f(Float16{});
      break;
  }
}

// Rows that reduce over an axis (Maxout, Dice, the gated units) run a 16-bit
// call in float32 as a whole: the call's 16-bit tensors (input, grad_output,
// output, weights) are widened into float32 copies, the row computes into
// float32 buffers, and "output" and "grad_input" are rounded to the input's
// type once at the end; parameter gradients and other results (Dice's batch
// statistics) are returned as float32. Costs a float32 copy of each tensor
// for the call's duration. `call` was validated against `row`.
absl::Status ForwardWidened(const Activation& row, const ActivationCall& call,
                            OutputSink& sink);
absl::Status BackwardWidened(const Activation& row, const ActivationCall& call,
                             OutputSink& sink);

}  // namespace actd

#endif  // ACTD_SERVER_CORE_HALF_OPS_H_
