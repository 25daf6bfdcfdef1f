// The loops that drive the element-wise kernels.
//
// A kernel is a small struct kernels::Name<T> in its activation file
// (activations/<name>.cc), templated on the scalar type T, constructed from
// KernelArgs, with, on Eigen packets P = pm::PacketOf<T>:
// - P Forward(P x): y = f(x);
// - P Backward(P x, P dy, P& term): dx, with `term` set to this element's share
//   of the gradient of the kernel's learnable scalar, if it has one;
// - P BackwardFromOutput(P y, P dy, P& term): the same from y, when
//   kFromOutput (a static constexpr bool every kernel declares);
// - optionally kBackwardKeepsNaN (below), kForwardIsCopy (forward is a
//   plain copy: the C library's memcpy runs it when not streaming) and
//   kExactResults (every result, forward and backward, is an input, x or dy,
//   or a small constant such as 0 or 6: exact in any type, so the 16-bit loops
//   of half_loops.h narrow it without rounding or refining) and kRoundsOnce
//   (every float32 result on 16-bit inputs is one rounding of exactly held
//   values, so the 16-bit loops need not redo any in float64) and kOneRounding
//   (every float32 result is an input or one product of an input and a
//   parameter rounded to float32, and a NaN forward result is such a
//   product's, never a NaN x passed through: the 16-bit loops redo only
//   results within a float32 ulp of a 16-bit midpoint, see
//   half_bits::NearMidpointBf16 / F16, and AVX2's bfloat16 forward has no
//   NaN test).
// The loops run them one packet at a time over the whole array, with the tail
// padded to a full packet (so every element goes through the same code), apply
// the NaN policy once in backward (unless the kernel declares
// kBackwardKeepsNaN: its Backward turns a NaN x into a NaN dx by itself), and
// sum parameter-gradient terms in float64 blocks.
#ifndef ACTD_SERVER_CORE_ELEMENTWISE_H_
#define ACTD_SERVER_CORE_ELEMENTWISE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "server/core/kernel_table.h"
#include "server/core/packet_math.h"

namespace actd {
inline namespace ACTD_ISA {
namespace loops {

using pm::PacketOf;

template <typename T>
constexpr int64_t kLanes = pm::unpacket_traits<PacketOf<T>>::size;

// Stores packet v at `to`: plainly, or with kStream non-temporally (then `to`
// must be aligned to the packet's size).
template <bool kStream, typename T, typename P>
inline void Store(T* to, const P& v) {
  if constexpr (kStream) {
    pm::StreamStore(to, v);
  } else {
    pm::pstoreu(to, v);
  }
}

// Calls run(head, stream) to cover [0, n) of an output at `out`: plainly when
// !stream, else with a plain head up to the first element aligned to kAlign
// bytes (0: T's packet) and a streamed rest, then a store fence.
template <uintptr_t kAlignOr0 = 0, typename T, typename Run>
void MaybeStreamed(T* out, int64_t n, bool stream, const Run& run) {
  if (!stream) {
    run(0, n, std::false_type{});
    return;
  }
  constexpr uintptr_t kAlign = [] {
    if constexpr (kAlignOr0 != 0) {
      return kAlignOr0;
    } else {
      return sizeof(PacketOf<T>);
    }
  }();
  const int64_t head = std::min<int64_t>(
      n, (kAlign - reinterpret_cast<uintptr_t>(out) % kAlign) % kAlign /
             sizeof(T));
  run(0, head, std::false_type{});
  run(head, n, std::true_type{});
  pm::StoreFence();
}

// y = f(x) over n elements, full packets then the zero-padded tail. Every
// kernel's Forward carries a NaN x through to y by itself (every operation on
// it does; Eigen's pmin(x, c) and pmax(x, c) return a NaN x, as std::min and
// std::max do), so no KeepNaN is spent here; the core tests check NaN in, NaN
// out for every kernel and ISA.
template <bool kStream, typename T, typename Kernel>
void ForwardRange(const Kernel& k, const T* x, T* y, int64_t n) {
  using P = PacketOf<T>;
  constexpr int64_t W = kLanes<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    Store<kStream>(y + i, k.Forward(pm::ploadu<P>(x + i)));
  }
  if (i < n) {
    T xb[W] = {}, yb[W];
    std::memcpy(xb, x + i, (n - i) * sizeof(T));
    pm::pstoreu(yb, k.Forward(pm::ploadu<P>(xb)));
    std::memcpy(y + i, yb, (n - i) * sizeof(T));
  }
}
template <typename T, typename Kernel>
void Forward(const Kernel& k, const T* x, T* y, int64_t n, bool stream) {
  MaybeStreamed(y, n, stream, [&](int64_t from, int64_t to, auto streamed) {
    ForwardRange<decltype(streamed)::value>(k, x + from, y + from, to - from);
  });
}

// dx = step(a, dy, term) over n elements, where `a` is x (Backward) or y
// (BackwardFromOutput) and dy == nullptr means ones. With kSumTerm, returns the
// float64 sum of the terms: they are added in packets of T over blocks of 64
// packets, then in double, which keeps a float32 sum within ~4e-6 of Σ|terms|.
// Padded tail lanes have dy = 0 and so add nothing.
template <bool kSumTerm, bool kStream, bool kSelectNaN, typename T,
          typename Step>
double BackwardRange(const T* a, const T* dy, T* dx, int64_t n,
                     const Step& step) {
  using P = PacketOf<T>;
  constexpr int64_t W = kLanes<T>;
  constexpr int64_t kBlock = 64 * W;
  const P ones = pm::One<P>();
  double total = 0;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    P acc = pm::Zero<P>(), term = pm::Zero<P>();
    int64_t i = start;
    for (; i + W <= end; i += W) {
      const P av = pm::ploadu<P>(a + i);
      const P dyv = dy ? pm::ploadu<P>(dy + i) : ones;
      const P dxv = step(av, dyv, term);
      Store<kStream>(dx + i, kSelectNaN ? pm::KeepNaN(av, dxv) : dxv);
      if constexpr (kSumTerm) acc = pm::padd(acc, term);
    }
    if (i < end) {
      const int64_t r = end - i;
      T ab[W] = {}, dyb[W] = {}, dxb[W];
      std::memcpy(ab, a + i, r * sizeof(T));
      if (dy) {
        std::memcpy(dyb, dy + i, r * sizeof(T));
      } else {
        std::fill(dyb, dyb + r, T(1));
      }
      const P av = pm::ploadu<P>(ab);
      const P dxv = step(av, pm::ploadu<P>(dyb), term);
      pm::pstoreu(dxb, kSelectNaN ? pm::KeepNaN(av, dxv) : dxv);
      std::memcpy(dx + i, dxb, r * sizeof(T));
      if constexpr (kSumTerm) acc = pm::padd(acc, term);
    }
    if constexpr (kSumTerm) {
      T lanes[W];
      pm::pstoreu(lanes, acc);
      for (T v : lanes) total += v;
    }
  }
  return total;
}
// The block sums start at a, so that their order never depends on dx's
// alignment: a summing backward is not streamed. kSelectNaN: apply the NaN
// policy (dx is NaN where a is).
template <bool kSumTerm, bool kSelectNaN, typename T, typename Step>
double Backward(const T* a, const T* dy, T* dx, int64_t n, bool stream,
                const Step& step) {
  if constexpr (kSumTerm) {
    return BackwardRange<true, false, kSelectNaN>(a, dy, dx, n, step);
  } else {
    MaybeStreamed(dx, n, stream, [&](int64_t from, int64_t to, auto streamed) {
      BackwardRange<false, decltype(streamed)::value, kSelectNaN>(
          a + from, dy ? dy + from : nullptr, dx + from, to - from, step);
    });
    return 0;
  }
}

}  // namespace loops
}  // namespace ACTD_ISA
}  // namespace actd

#endif  // ACTD_SERVER_CORE_ELEMENTWISE_H_
