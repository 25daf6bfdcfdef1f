// The 16-bit element-wise ops of half_ops.h: per kernel id, block loops that
// widen, call the active float32 kernel and narrow.
#include "server/core/half_ops.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

namespace actd {
namespace {

constexpr int kKernels = static_cast<int>(KernelId::kCount);

template <typename H>
uint32_t Suspect(uint32_t u) {
  if constexpr (std::is_same_v<H, BFloat16>) {
    return half_bits::SuspectBf16(u);
  } else {
    return half_bits::SuspectF16(u);
  }
}
template <typename H>
bool AnySuspect(const float* y, int64_t n) {
  const HalfConversions& c = Conversions();
  if constexpr (std::is_same_v<H, BFloat16>) {
    return c.any_suspect_bf16(y, n);
  } else {
    return c.any_suspect_f16(y, n);
  }
}

// A float64 value rounded once to H: to float32 by rounding to odd (truncate,
// then set the last bit if anything was dropped), which keeps enough to round
// correctly again to any format of at most 22 bits of precision.
template <typename H>
uint16_t NarrowDouble(double d) {
  float f = static_cast<float>(d);
  if (static_cast<double>(f) != d && !std::isnan(d)) {
    if (std::fabs(static_cast<double>(f)) > std::fabs(d)) {
      f = std::nextafter(f, 0.0f);
    }
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u |= 1u;
    std::memcpy(&f, &u, 4);
  }
  return H(f).bits;
}

// Recomputes the suspect results of a block (half_bits::SuspectBf16 /
// SuspectF16) with the float64 kernel and
// rounds those once from float64: the float32 kernels are accurate to a few
// float32 ulps, so every other result is already correctly rounded to H, and
// these few (ties from short constants, such as 2.5·x on an exact tie, and
// float16's subnormal results) are decided by float64. `x` and `dy` are the
// block's widened inputs, `y` its float32 results; `out` its 16-bit results.
template <typename H, typename Eval>
void Refine(const float* x, const float* dy, const float* y, H* out, int64_t n,
            const Eval& eval64) {
  if (!AnySuspect<H>(y, n)) return;
  constexpr int kBatch = 64;
  double xs[kBatch], dys[kBatch], ys[kBatch];
  int64_t at[kBatch];
  int k = 0;
  auto flush = [&] {
    eval64(xs, dy != nullptr ? dys : nullptr, ys, k);
    for (int j = 0; j < k; ++j) out[at[j]].bits = NarrowDouble<H>(ys[j]);
    k = 0;
  };
  for (int64_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, y + i, 4);
    if (!Suspect<H>(u)) continue;
    xs[k] = x[i];
    if (dy != nullptr) dys[k] = dy[i];
    at[k++] = i;
    if (k == kBatch) flush();
  }
  if (k > 0) flush();
}

// Kernels whose results are inputs (or zeros) unchanged, already exact in H:
// nothing to refine.
template <int kId>
constexpr bool kExact = kId == static_cast<int>(KernelId::kIdentity) ||
                        kId == static_cast<int>(KernelId::kRelu);

template <typename H, int kId>
void Forward(const KernelArgs& a, const H* x, H* y, int64_t n) {
  const KernelTable& table = Kernels();
  const auto forward = table.f32[kId].forward;
  const auto forward64 = table.f64[kId].forward;
  KernelArgs args = a;
  args.stream = false;  // the float32 kernel writes an L1 buffer
  auto eval64 = [&](const double* xs, const double*, double* ys, int64_t k) {
    forward64(args, xs, ys, k);
  };
  alignas(64) float xb[kHalfBlock], yb[kHalfBlock];
  for (int64_t i = 0; i < n; i += kHalfBlock) {
    const int64_t m = std::min(kHalfBlock, n - i);
    Widen(x + i, xb, m);
    forward(args, xb, yb, m);
    Narrow(yb, y + i, m);
    if constexpr (!kExact<kId>) Refine(xb, nullptr, yb, y + i, m, eval64);
  }
}

// Backward (kFromOutput: from y); `a` is x or y. The float32 kernel's sums
// come back per block in float64 and are added in block order.
template <typename H, int kId, bool kFromOutput>
double Backward(const KernelArgs& args, const H* a, const H* dy, H* dx,
                int64_t n, bool sum) {
  const ElementwiseOps<float>& ops = Kernels().f32[kId];
  const ElementwiseOps<double>& ops64 = Kernels().f64[kId];
  const auto backward = kFromOutput ? ops.backward_from_output : ops.backward;
  const auto backward64 =
      kFromOutput ? ops64.backward_from_output : ops64.backward;
  KernelArgs plain = args;
  plain.stream = false;
  auto eval64 = [&](const double* as, const double* dys, double* dxs,
                    int64_t k) { backward64(plain, as, dys, dxs, k, false); };
  alignas(64) float ab[kHalfBlock], dyb[kHalfBlock], dxb[kHalfBlock];
  double total = 0;
  for (int64_t i = 0; i < n; i += kHalfBlock) {
    const int64_t m = std::min(kHalfBlock, n - i);
    Widen(a + i, ab, m);
    if (dy != nullptr) Widen(dy + i, dyb, m);
    total += backward(plain, ab, dy != nullptr ? dyb : nullptr, dxb, m, sum);
    Narrow(dxb, dx + i, m);
    if constexpr (!kExact<kId>)
      Refine(ab, dy != nullptr ? dyb : nullptr, dxb, dx + i, m, eval64);
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
