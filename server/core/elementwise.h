// Element-wise kernels and the loops that drive them.
//
// A kernel is a small struct, templated on the scalar type T, with, on Eigen
// packets P:
// - P Forward(P x): y = f(x);
// - P Backward(P x, P dy, P& term): dx, with `term` set to this element's share
//   of the gradient of the kernel's learnable scalar, if it has one;
// - P BackwardFromOutput(P y, P dy, P& term): the same from y, when
//   kFromOutput.
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
namespace kernels {

using pm::PacketOf;

template <typename T>
struct Identity {
  using P = PacketOf<T>;
  explicit Identity(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  P Forward(const P& x) const { return x; }
  P Backward(const P&, const P& dy, P&) const { return dy; }
  P BackwardFromOutput(const P&, const P& dy, P&) const { return dy; }
};

template <typename T>
struct Relu {
  using P = PacketOf<T>;
  explicit Relu(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  // max(x, 0) in one operation; a NaN x is kept (see loops::Forward), and -0
  // too, as the x > 0 branch is not taken there.
  P Forward(const P& x) const { return pm::pmax(x, pm::Zero<P>()); }
  // At exactly 0 the negative side's slope (0).
  P Backward(const P& x, const P& dy, P&) const {
    return pm::Select(pm::Gt(x, pm::Zero<P>()), dy, pm::Zero<P>());
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::Select(pm::Gt(y, pm::Zero<P>()), dy, pm::Zero<P>());
  }
};

// Leaky ReLU and PReLU: x if x > 0 else a·x. `term` is dL/da = dy·x where x ≤
// 0.
template <typename T>
struct Leaky {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput =
      true;  // valid for a ≥ 0 (y > 0 iff x > 0)
  P a;
  explicit Leaky(const KernelArgs& args)
      : a(pm::pset1<P>(static_cast<T>(args.alpha))) {}
  P Forward(const P& x) const {
    return pm::Select(pm::Gt(x, pm::Zero<P>()), x, pm::pmul(a, x));
  }
  P Backward(const P& x, const P& dy, P& term) const {
    const P positive = pm::Gt(x, pm::Zero<P>());
    term = pm::Select(positive, pm::Zero<P>(), pm::pmul(dy, x));
    return pm::Select(positive, dy, pm::pmul(a, dy));
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::Select(pm::Gt(y, pm::Zero<P>()), dy, pm::pmul(a, dy));
  }
};

// ELU and SELU: scale·(x if x > 0 else alpha·expm1(x)). expm1 keeps relative
// precision near 0. `term` is dL/dalpha = dy·scale·expm1(x) where x ≤ 0 (ELU's
// scale is 1); from y it is dy·y/alpha, so the from-output form needs alpha ≠ 0
// when that gradient is wanted.
template <typename T>
struct Elu {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  static constexpr bool kFromOutput =
      true;  // valid for alpha ≥ 0 (y > 0 iff x > 0)
  P scale, alpha, scaled_alpha, inv_alpha;
  explicit Elu(const KernelArgs& args)
      : scale(pm::pset1<P>(static_cast<T>(args.scale))),
        alpha(pm::pset1<P>(static_cast<T>(args.alpha))),
        scaled_alpha(pm::pset1<P>(static_cast<T>(args.alpha * args.scale))),
        inv_alpha(pm::pset1<P>(
            static_cast<T>(args.alpha == 0 ? 0 : 1 / args.alpha))) {}
  P Forward(const P& x) const {
    return pm::Select(pm::Gt(x, pm::Zero<P>()), pm::pmul(scale, x),
                      pm::pmul(scaled_alpha, pm::Expm1(x)));
  }
  P Backward(const P& x, const P& dy, P& term) const {
    const P positive = pm::Gt(x, pm::Zero<P>());
    const pm::ExpPair<P> e = pm::ExpAndExpm1(x);
    const P scaled_dy = pm::pmul(scale, dy);
    term = pm::Select(positive, pm::Zero<P>(), pm::pmul(scaled_dy, e.expm1));
    return pm::Select(positive, scaled_dy,
                      pm::pmul(scaled_dy, pm::pmul(alpha, e.exp)));
  }
  // For x ≤ 0, f'(x) = y + scale·alpha.
  P BackwardFromOutput(const P& y, const P& dy, P& term) const {
    const P positive = pm::Gt(y, pm::Zero<P>());
    term = pm::Select(positive, pm::Zero<P>(),
                      pm::pmul(dy, pm::pmul(y, inv_alpha)));
    return pm::Select(positive, pm::pmul(scale, dy),
                      pm::pmul(dy, pm::padd(y, scaled_alpha)));
  }
};

template <typename T>
struct Sigmoid {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit Sigmoid(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  P Forward(const P& x) const { return pm::Sigmoid(x); }
  P Backward(const P& x, const P& dy, P&) const {
    return pm::pmul(dy, pm::Sigmoids(x).prod);
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::pmul(dy, pm::pmul(y, pm::psub(pm::One<P>(), y)));
  }
};

template <typename T>
struct Tanh {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit Tanh(const KernelArgs&) {}
  static constexpr bool kFromOutput = true;
  P Forward(const P& x) const { return pm::Tanh(x); }
  P Backward(const P& x, const P& dy, P&) const {
    return pm::pmul(dy, pm::TanhDerivative(x));
  }
  P BackwardFromOutput(const P& y, const P& dy, P&) const {
    return pm::pmul(
        dy, pm::pmul(pm::psub(pm::One<P>(), y), pm::padd(pm::One<P>(), y)));
  }
};

// Swish x·σ(βx), and GELU's sigmoid form (β = 1.702). `term` is dL/dβ =
// dy·x²·s(1-s).
template <typename T>
struct Swish {
  using P = PacketOf<T>;
  static constexpr bool kFromOutput = false;
  P beta;
  explicit Swish(const KernelArgs& args)
      : beta(pm::pset1<P>(static_cast<T>(args.beta))) {}
  // β·x, but 0 when β = 0 (where the product with x = ±inf would be NaN).
  P BetaX(const P& x) const {
    return pm::Select(pm::IsZero(beta), pm::Zero<P>(), pm::pmul(beta, x));
  }
  P Forward(const P& x) const {
    return pm::TimesVanishing(x, pm::Sigmoid(BetaX(x)));
  }
  // dx = s + βx·s(1-s); the second term is 0 wherever s(1-s) is (so 1 at +inf,
  // 0 at -inf).
  P Backward(const P& x, const P& dy, P& term) const {
    const auto s = pm::Sigmoids(BetaX(x));
    term = pm::pmul(dy, pm::TimesVanishing(pm::pmul(x, x), s.prod));
    const P slope = pm::TimesVanishing(BetaX(x), s.prod);
    return pm::pmul(dy, pm::padd(s.pos, slope));
  }
};

// GELU, tanh form: x·σ(2u), u = √(2/π)(x + 0.044715x³).
template <typename T>
struct GeluTanh {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit GeluTanh(const KernelArgs&) {}
  static constexpr bool kFromOutput = false;
  static constexpr double kC = 0.79788456080286535588;  // √(2/π)
  static P TwoU(const P& x) {
    const P x2 = pm::pmul(x, x);
    return pm::pmul(
        pm::Set<P>(2 * kC),
        pm::pmul(x, pm::pmadd(pm::Set<P>(0.044715), x2, pm::One<P>())));
  }
  P Forward(const P& x) const {
    return pm::TimesVanishing(x, pm::Sigmoid(TwoU(x)));
  }
  // dx = σ(2u) + x·σ(2u)σ(-2u)·2√(2/π)(1 + 0.134145x²).
  P Backward(const P& x, const P& dy, P&) const {
    const auto s = pm::Sigmoids(TwoU(x));
    const P du =
        pm::pmul(pm::Set<P>(2 * kC),
                 pm::pmadd(pm::Set<P>(0.134145), pm::pmul(x, x), pm::One<P>()));
    return pm::pmul(
        dy, pm::padd(s.pos, pm::TimesVanishing(pm::pmul(x, du), s.prod)));
  }
};

// GELU, exact: x·Φ(x). erfc rather than 1 + erf keeps relative precision in the
// left tail.
template <typename T>
struct GeluErf {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit GeluErf(const KernelArgs&) {}
  static constexpr bool kFromOutput = false;
  P Forward(const P& x) const {
    return pm::TimesVanishing(x, pm::Normal(x).cdf);
  }
  // dx = Φ(x) + x·φ(x), φ(x) = e^{-x²/2}/√(2π).
  P Backward(const P& x, const P& dy, P&) const {
    const pm::NormalParts<P> n = pm::Normal(x);
    const P phi = pm::pmul(pm::Set<P>(0.39894228040143267794), n.gauss);
    return pm::pmul(dy, pm::padd(n.cdf, pm::TimesVanishing(x, phi)));
  }
};

// Mish x·tanh(softplus(x)) with one exp: e = e^x, n = e² + 2e,
// tanh(softplus(x)) = n/(n+2), and 1 - t² = 4(n+1)/(n+2)² without cancellation.
// Beyond x = 20, t = 1 to working precision, so x is clamped there to keep e²
// finite.
template <typename T>
struct Mish {
  using P = PacketOf<T>;
  static constexpr bool kBackwardKeepsNaN = true;
  explicit Mish(const KernelArgs&) {}
  static constexpr bool kFromOutput = false;
  static constexpr double kClamp = 20.0;
  struct Parts {
    P e, t, one_minus_t2;
  };
  static Parts Split(const P& x) {
    const P e = pm::Exp(pm::pmin(x, pm::Set<P>(kClamp)));
    const P n = pm::pmul(e, pm::padd(e, pm::Set<P>(2.0)));
    const P inv = pm::pdiv(pm::One<P>(), pm::padd(n, pm::Set<P>(2.0)));
    return {e, pm::pmul(n, inv),
            pm::pmul(pm::Set<P>(4.0),
                     pm::pmul(pm::padd(n, pm::One<P>()), pm::pmul(inv, inv)))};
  }
  P Forward(const P& x) const {
    const P e = pm::Exp(pm::pmin(x, pm::Set<P>(kClamp)));
    const P n = pm::pmul(e, pm::padd(e, pm::Set<P>(2.0)));
    return pm::TimesVanishing(x, pm::pdiv(n, pm::padd(n, pm::Set<P>(2.0))));
  }
  // dx = t + x·σ(x)·(1 - t²), σ(x) = e/(1 + e) from the same e (no cancellation
  // below the clamp); exactly 1 beyond the clamp, t at -inf.
  P Backward(const P& x, const P& dy, P&) const {
    const Parts p = Split(x);
    const P sigmoid = pm::pdiv(p.e, pm::padd(pm::One<P>(), p.e));
    const P slope = pm::TimesVanishing(x, pm::pmul(sigmoid, p.one_minus_t2));
    const P d = pm::Select(pm::Gt(x, pm::Set<P>(kClamp)), pm::One<P>(),
                           pm::padd(p.t, slope));
    return pm::pmul(dy, d);
  }
};

}  // namespace kernels

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
// !stream, else with a plain head up to the first packet-aligned element and a
// streamed rest, then a store fence.
template <typename T, typename Run>
void MaybeStreamed(T* out, int64_t n, bool stream, const Run& run) {
  if (!stream) {
    run(0, n, std::false_type{});
    return;
  }
  constexpr uintptr_t kAlign = sizeof(PacketOf<T>);
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
void ForwardRange(const Kernel& k_in, const T* x, T* y, int64_t n) {
  // A local copy, so that the kernel's constants can stay in registers: through
  // the reference, any store to y might change them.
  const Kernel k = k_in;
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
