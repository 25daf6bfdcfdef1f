// The loops of the gated units (glu, swiglu, geglu, reglu): y = a·g(b) over
// two halves a and b of the input, with g any element-wise kernel of
// elementwise.h. One pass: each packet of a and b is read once, g(b) is
// computed in registers and the product stored once; backward reads a, b and
// dy once and writes both halves of dx.
//
// Compiled once per instruction set (see activations/kernel_export.h).
#ifndef ACTD_SERVER_CORE_GATED_H_
#define ACTD_SERVER_CORE_GATED_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "server/core/elementwise.h"
#include "server/core/packet_math.h"

namespace actd {
inline namespace ACTD_ISA {
namespace gated {

using pm::PacketOf;

// Software prefetch, this many bytes ahead of a and of b. Each half of a row
// is a stream of its own, short when rows are (a 1 Mi-element tensor of 1 Ki
// rows reads 4 KiB of a, then 4 KiB of b, per row), and the hardware
// prefetcher restarts at every row; prefetching past the end of a half reaches
// data read soon after (b's start, or the next row's a) and never faults. 512
// bytes measured best of 256 to 2 KiB (docs/PERFORMANCE.md, "Gated units").
constexpr int64_t kPrefetchBytes = 512;

template <typename T>
inline void PrefetchAhead(const T* p) {
  __builtin_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes);
}

template <bool kStream, typename T, typename Kernel>
void ForwardRange(const Kernel& k, const T* a, const T* b, T* y, int64_t n) {
  using P = PacketOf<T>;
  constexpr int64_t W = loops::kLanes<T>;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    PrefetchAhead(a + i);
    PrefetchAhead(b + i);
    loops::Store<kStream>(
        y + i, pm::pmul(pm::ploadu<P>(a + i), k.Forward(pm::ploadu<P>(b + i))));
  }
  if (i < n) {
    T ab[W] = {}, bb[W] = {}, yb[W];
    std::memcpy(ab, a + i, (n - i) * sizeof(T));
    std::memcpy(bb, b + i, (n - i) * sizeof(T));
    pm::pstoreu(yb, pm::pmul(pm::ploadu<P>(ab), k.Forward(pm::ploadu<P>(bb))));
    std::memcpy(y + i, yb, (n - i) * sizeof(T));
  }
}

// y = a·g(b) over n elements (a, b and y need not be aligned). A NaN in a or b
// gives a NaN y: g carries a NaN b through (see loops::Forward), and the
// product does the rest.
template <typename T, typename Kernel>
void Forward(const Kernel& k, const T* a, const T* b, T* y, int64_t n,
             bool stream) {
  loops::MaybeStreamed(y, n, stream, [&](int64_t from, int64_t to, auto s) {
    ForwardRange<decltype(s)::value>(k, a + from, b + from, y + from,
                                     to - from);
  });
}

// g(b), and g's Backward applied to t: from one evaluation of the gate's
// transcendental where the kernel offers it (ValueAndBackward: sigmoid, swish,
// GELU), else by both calls.
template <typename Kernel, typename P>
inline P GateAndBackward(const Kernel& k, const P& b, const P& t, P& g) {
  if constexpr (requires { k.ValueAndBackward(b, t, g); }) {
    return k.ValueAndBackward(b, t, g);
  } else {
    P unused = pm::Zero<P>();
    g = k.Forward(b);
    return k.Backward(b, t, unused);
  }
}

// One packet of backward: da = dy·g(b), db = dy·a·g'(b) (g's Backward applied
// to the incoming gradient dy·a); both NaN where a or b is.
template <typename Kernel, typename P>
inline void Step(const Kernel& k, const P& a, const P& b, const P& dy, P& da,
                 P& db) {
  P g;
  const P gb = GateAndBackward(k, b, pm::pmul(dy, a), g);
  da = pm::KeepNaN(a, pm::KeepNaN(b, pm::pmul(dy, g)));
  db = pm::KeepNaN(a, pm::KeepNaN(b, gb));
}

// da and db over n elements; dy == nullptr means ones. Plain stores: da and db
// rarely share an alignment, and backward outputs are re-read soon anyway.
template <typename T, typename Kernel>
void Backward(const Kernel& k, const T* a, const T* b, const T* dy, T* da,
              T* db, int64_t n, bool /*stream*/) {
  using P = PacketOf<T>;
  constexpr int64_t W = loops::kLanes<T>;
  const P ones = pm::One<P>();
  P dav, dbv;
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    Step(k, pm::ploadu<P>(a + i), pm::ploadu<P>(b + i),
         dy ? pm::ploadu<P>(dy + i) : ones, dav, dbv);
    pm::pstoreu(da + i, dav);
    pm::pstoreu(db + i, dbv);
  }
  if (i < n) {
    const int64_t r = n - i;
    T ab[W] = {}, bb[W] = {}, dyb[W] = {}, dab[W], dbb[W];
    std::memcpy(ab, a + i, r * sizeof(T));
    std::memcpy(bb, b + i, r * sizeof(T));
    if (dy) {
      std::memcpy(dyb, dy + i, r * sizeof(T));
    } else {
      std::fill(dyb, dyb + r, T(1));
    }
    Step(k, pm::ploadu<P>(ab), pm::ploadu<P>(bb), pm::ploadu<P>(dyb), dav, dbv);
    pm::pstoreu(dab, dav);
    pm::pstoreu(dbb, dbv);
    std::memcpy(da + i, dab, r * sizeof(T));
    std::memcpy(db + i, dbb, r * sizeof(T));
  }
}

}  // namespace gated
}  // namespace ACTD_ISA
}  // namespace actd

#endif  // ACTD_SERVER_CORE_GATED_H_
