// The 16-bit element-wise ops of half_ops.h: per kernel id, block loops that
// widen, call the active float32 kernel and narrow.
#include "server/core/half_ops.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace actd {
namespace {

constexpr int kKernels = static_cast<int>(KernelId::kCount);

template <typename H, int kId>
void Forward(const KernelArgs& a, const H* x, H* y, int64_t n) {
  if constexpr (kId == static_cast<int>(KernelId::kIdentity)) {
    // A copy of the bits, as float32's identity is (a signalling NaN stays
    // as it came).
    std::memcpy(y, x, n * sizeof(H));
    return;
  }
  const auto forward = Kernels().f32[kId].forward;
  KernelArgs args = a;
  args.stream = false;  // the float32 kernel writes an L1 buffer
  alignas(64) float xb[kHalfBlock], yb[kHalfBlock];
  for (int64_t i = 0; i < n; i += kHalfBlock) {
    const int64_t m = std::min(kHalfBlock, n - i);
    Widen(x + i, xb, m);
    forward(args, xb, yb, m);
    Narrow(yb, y + i, m);
  }
}

// Backward (kFromOutput: from y); `a` is x or y. The float32 kernel's sums
// come back per block in float64 and are added in block order.
template <typename H, int kId, bool kFromOutput>
double Backward(const KernelArgs& args, const H* a, const H* dy, H* dx,
                int64_t n, bool sum) {
  const ElementwiseOps<float>& ops = Kernels().f32[kId];
  const auto backward = kFromOutput ? ops.backward_from_output : ops.backward;
  KernelArgs plain = args;
  plain.stream = false;
  alignas(64) float ab[kHalfBlock], dyb[kHalfBlock], dxb[kHalfBlock];
  double total = 0;
  for (int64_t i = 0; i < n; i += kHalfBlock) {
    const int64_t m = std::min(kHalfBlock, n - i);
    Widen(a + i, ab, m);
    if (dy != nullptr) Widen(dy + i, dyb, m);
    total += backward(plain, ab, dy != nullptr ? dyb : nullptr, dxb, m, sum);
    Narrow(dxb, dx + i, m);
  }
  return total;
}

template <typename H, int... kIds>
std::array<ElementwiseOps<H>, kKernels> Build(
    std::integer_sequence<int, kIds...>) {
  std::array<ElementwiseOps<H>, kKernels> table;
  ((table[kIds] =
        ElementwiseOps<H>{&Forward<H, kIds>, &Backward<H, kIds, false>,
                          Kernels().f32[kIds].backward_from_output != nullptr
                              ? &Backward<H, kIds, true>
                              : nullptr}),
   ...);
  return table;
}

template <typename H>
const ElementwiseOps<H>& Lookup(KernelId id) {
  static const std::array<ElementwiseOps<H>, kKernels> table =
      Build<H>(std::make_integer_sequence<int, kKernels>());
  return table[static_cast<int>(id)];
}

}  // namespace

const ElementwiseOps<BFloat16>& Bf16Ops(KernelId id) {
  return Lookup<BFloat16>(id);
}
const ElementwiseOps<Float16>& F16Ops(KernelId id) {
  return Lookup<Float16>(id);
}

}  // namespace actd
