// The 16-bit element-wise kernels: ElementwiseOps<BFloat16> and
// ElementwiseOps<Float16> for every kernel of the table, built on its float32
// ops.
//
// Each call works through its elements in blocks of kHalfBlock: widen the
// block's 16-bit inputs into float32 buffers on the stack (exact), run the
// float32 kernel of the active table on them, round the block's results to the
// 16-bit type once (half.h: nearest even). The buffers (4 KiB each) stay in L1,
// so memory sees only the 2-byte elements: half the traffic of float32. The
// block is a multiple of the float32 loops' summing block (64 packets of at
// most 16 lanes), so a parameter-gradient sum adds the same float32 terms in
// the same order as a float32 call on the widened data, and comes back in
// float64.
//
// Rows call OpsOf<T>(id) for every T: float and double go to the kernel table,
// the 16-bit types here. Parameter gradients of 16-bit calls are float32
// (GradOf / GradDType).
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

// Elements per block (see above).
inline constexpr int64_t kHalfBlock = 1024;

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

// The 16-bit ops of kernel `id` (backward_from_output null exactly when the
// float32 kernel has none). Thread-safe.
const ElementwiseOps<BFloat16>& Bf16Ops(KernelId id);
const ElementwiseOps<Float16>& F16Ops(KernelId id);

// The ops of kernel `id` on elements of type T.
template <typename T>
const ElementwiseOps<T>& OpsOf(KernelId id) {
  if constexpr (std::is_same_v<T, BFloat16>) {
    return Bf16Ops(id);
  } else if constexpr (std::is_same_v<T, Float16>) {
    return F16Ops(id);
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
