// Accurate building blocks on Eigen packets: exp without Eigen's underflow
// clamp, a sigmoid that keeps relative precision in both tails, the normal
// distribution for float32 and float64, and helpers for the limits at ±inf.
//
// Every function is a template on the packet type P (Eigen::internal::Packet4f,
// Packet8f, Packet2d, ...), so one kernel source serves every width and both
// dtypes.
//
// The larger helpers (and the kernels' per-packet methods) are
// EIGEN_ALWAYS_INLINE: left to itself GCC kept some as calls inside the loops,
// and a call there spills every live vector register (ELU's forward ran at
// half speed). Only the cold wide-range fallbacks stay out of line.
#ifndef ACTD_SERVER_CORE_PACKET_MATH_H_
#define ACTD_SERVER_CORE_PACKET_MATH_H_

#include <Eigen/Core>
#include <limits>
#include <type_traits>

#ifndef ACTD_ISA
#error "the kernels are compiled through kernels_isa.cc, which sets ACTD_ISA"
#endif

// For lambdas run on every packet (the ones given to WithExp and WithNormal):
// GCC otherwise leaves some of them out of line, and a call inside a hot loop
// spills every live vector register.
#define ACTD_INLINE_LAMBDA __attribute__((always_inline))

namespace actd {
inline namespace ACTD_ISA {
namespace pm {

using namespace Eigen::internal;  // NOLINT: pexp, pmul, pselect, ... read like
                                  // formulas

template <typename T>
using PacketOf = typename packet_traits<T>::type;
template <typename P>
using ScalarOf = typename unpacket_traits<P>::type;

template <typename P>
inline P Set(double v) {
  return pset1<P>(static_cast<ScalarOf<P>>(v));
}
template <typename P>
inline P Zero() {
  return pset1<P>(ScalarOf<P>(0));
}
template <typename P>
inline P One() {
  return pset1<P>(ScalarOf<P>(1));
}
// Lane masks: all ones where the comparison holds. NaN compares false.
template <typename P>
inline P Lt(const P& a, const P& b) {
  return pcmp_lt(a, b);
}
template <typename P>
inline P Gt(const P& a, const P& b) {
  return pcmp_lt(b, a);
}
template <typename P>
inline P IsZero(const P& a) {
  return pcmp_eq(a, Zero<P>());
}
template <typename P>
inline P Select(const P& mask, const P& if_true, const P& if_false) {
  return pselect(mask, if_true, if_false);
}

// Lane masks as the ISA compares into them, for the selects inside this file.
// AVX-512 compares into mask registers (__mmask16, __mmask8) and blends or
// zeroes under them in one instruction; Eigen's packet masks (all-ones lanes,
// the functions above) cost a mask-to-vector and a vector-to-mask conversion
// per select there, two more dependent instructions on every packet's critical
// path. Elsewhere a Mask<P> is such a packet mask.
template <typename P>
struct MaskTraits {
  using type = P;
};
#if defined(__AVX512F__)
template <>
struct MaskTraits<__m512> {
  using type = __mmask16;
};
template <>
struct MaskTraits<__m512d> {
  using type = __mmask8;
};
#endif
template <typename P>
using Mask = typename MaskTraits<P>::type;
template <typename P>
constexpr bool kMaskRegister = !std::is_same_v<Mask<P>, P>;

// The lanes where a < b (NaN: false).
template <typename P>
inline Mask<P> MaskLt(const P& a, const P& b) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<P, __m512>) {
    return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
  } else if constexpr (std::is_same_v<P, __m512d>) {
    return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ);
  } else
#endif
  {
    return pcmp_lt(a, b);
  }
}
// The lanes where a is a number.
template <typename P>
inline Mask<P> MaskNotNaN(const P& a) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<P, __m512>) {
    return _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q);
  } else if constexpr (std::is_same_v<P, __m512d>) {
    return _mm512_cmp_pd_mask(a, a, _CMP_ORD_Q);
  } else
#endif
  {
    return pcmp_eq(a, a);
  }
}
template <typename P>
inline P MaskSelect(const Mask<P>& m, const P& if_true, const P& if_false) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<P, __m512>) {
    return _mm512_mask_blend_ps(m, if_false, if_true);
  } else if constexpr (std::is_same_v<P, __m512d>) {
    return _mm512_mask_blend_pd(m, if_false, if_true);
  } else
#endif
  {
    return pselect(m, if_true, if_false);
  }
}
template <typename P>
EIGEN_ALWAYS_INLINE bool MaskAny(const Mask<P>& m) {
  if constexpr (kMaskRegister<P>) {
    return m != 0;
  } else {
    return predux_any(m);
  }
}

// Stores a full packet at `to`, which must be aligned to the packet's size,
// with a non-temporal store (x86) or a plain aligned store (elsewhere).
// StoreFence() then orders such stores before whatever the thread does next,
// such as telling another thread the data is ready.
template <typename P>
inline void StreamStore(ScalarOf<P>* to, const P& v) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<P, __m512>) {
    _mm512_stream_ps(to, v);
    return;
  } else if constexpr (std::is_same_v<P, __m512d>) {
    _mm512_stream_pd(to, v);
    return;
  }
#endif
#if defined(__AVX__)
  if constexpr (std::is_same_v<P, __m256>) {
    _mm256_stream_ps(to, v);
    return;
  } else if constexpr (std::is_same_v<P, __m256d>) {
    _mm256_stream_pd(to, v);
    return;
  }
#endif
#if defined(__SSE2__)
  if constexpr (std::is_same_v<P, __m128>) {
    _mm_stream_ps(to, v);
    return;
  } else if constexpr (std::is_same_v<P, __m128d>) {
    _mm_stream_pd(to, v);
    return;
  }
#endif
  pstore(to, v);
}
inline void StoreFence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// -|x| in one operation: x with its sign bit set.
template <typename P>
inline P NegAbs(const P& x) {
  return por(x, Set<P>(-0.0));
}
// x where x is a number, else the NaN x: the NaN policy, applied once per
// kernel result.
template <typename P>
inline P KeepNaN(const P& x, const P& result) {
  return MaskSelect(MaskNotNaN(x), result, x);
}
// a*b, but a zero where `vanishing` is 0: the limit of x·(something decaying
// faster than x grows), which would otherwise be inf·0 = NaN at x = ±inf. That
// zero has the product's sign (-0 for x < 0 and vanishing = +0), as rounding
// the exact, tiny product would give. A NaN `vanishing` is not 0, so it
// reaches the product.
template <typename P>
inline P TimesVanishing(const P& a, const P& vanishing) {
  const P sign = pand(pxor(a, vanishing), Set<P>(-0.0));  // ±0
#if defined(__AVX512F__)
  // One multiply under the mask of vanishing ≠ 0, the signed zero elsewhere.
  if constexpr (std::is_same_v<P, __m512>) {
    return _mm512_mask_mul_ps(
        sign, _mm512_cmp_ps_mask(vanishing, _mm512_setzero_ps(), _CMP_NEQ_UQ),
        a, vanishing);
  } else if constexpr (std::is_same_v<P, __m512d>) {
    return _mm512_mask_mul_pd(
        sign, _mm512_cmp_pd_mask(vanishing, _mm512_setzero_pd(), _CMP_NEQ_UQ),
        a, vanishing);
  } else
#endif
  {
    // The product with the lanes where vanishing = 0 cleared, then signed.
    const P zero = IsZero(vanishing);
    return por(pandnot(pmul(a, vanishing), zero), pand(zero, sign));
  }
}
// |t| with x's sign: for t ≥ 0, the odd extension t·sign(x) in one operation,
// no compare (so -0 for x = -0).
template <typename P>
inline P WithSignOf(const P& t, const P& x) {
  return por(t, pand(x, Set<P>(-0.0)));
}

// e^x for float32, in the whole float range down to the last subnormal.
// r = x - m·ln2 with m = round(x/ln2) (two-step Cody-Waite), a polynomial
// (ExpPolyQ4, 2 ulp) for e^r, then e^x = 2^m·e^r. That scaling is one
// multiply when every lane has |x| ≤ 87 (m in [-126, 126], 2^m a normal
// float); otherwise (overflow, subnormal results, ±inf) 2^m is applied as two
// exact power-of-two factors, so such results round once, correctly, with no
// clamp or slow ldexp: e^x = 0 below -104, inf above 88.72, NaN kept.
template <typename P>
struct ExpParts {
  P m;        // round(x/ln2), as a float
  P r;        // x - m·ln2, |r| ≤ ln2/2
  P shifted;  // x/ln2 + 1.5·2^23: m in its low mantissa bits
};
template <typename P>
EIGEN_ALWAYS_INLINE ExpParts<P> ExpReduce(const P& x) {
  // Adding 1.5·2^23 rounds x/ln2 to an integer (for |x/ln2| < 2^22) and leaves
  // it, as two's complement, in the low mantissa bits.
  const P shifter = Set<P>(12582912.0);
  const P shifted = pmadd(x, Set<P>(1.44269504088896341), shifter);
  const P m = psub(shifted, shifter);
  P r = pmadd(m, Set<P>(-0.693359375), x);
  r = pmadd(m, Set<P>(2.12194440e-4), r);
  return {m, r, shifted};
}
// (e^r - 1)/r for |r| ≤ ln2/2, finished as 1 + r·q (e^r) or r·q (e^r - 1).
// ExpPolyQ is evaluated by Estrin's scheme, which shortens the dependency
// chain; ExpPolyQ4 and NormalFloatFromGauss's Q by Horner's, which saves the
// multiplies forming the powers: on a Zen 4 core (AVX2 and AVX-512) the GELU
// and sigmoid kernels are bound by the FMA ports rather than by latency, and
// Horner's made float32 GELU 4-7% faster (forward and backward, AVX2) and no
// slower on AVX-512; for ExpPolyQ the difference was below the noise.
//
// ExpPolyQ: Cephes' (as in Eigen), degree 5, for e^r - 1 to ~1 ulp.
template <typename P>
inline P ExpPolyQ(const P& r) {
  const P r2 = pmul(r, r);
  const P r4 = pmul(r2, r2);
  const P p01 = pmadd(Set<P>(5.0000001201E-1), r, One<P>());
  const P p23 = pmadd(Set<P>(4.1665795894E-2), r, Set<P>(1.6666665459E-1));
  const P p45 = pmadd(Set<P>(1.3981999507E-3), r, Set<P>(8.3334519073E-3));
  const P p456 = pmadd(Set<P>(1.9875691500E-4), r2, p45);
  return pmadd(p456, r4, pmadd(p23, r2, p01));
}
// ExpPolyQ4: degree 4, minimax in relative error over |r| ≤ ln2/2 (4.5e-7;
// scripts/fit_polynomials.py), three operations fewer. It serves e^x alone,
// where its error is r times that, ≤ 2.3e-7 evaluated in float32: 2 ulp of the
// 16 the contract allows. Horner's scheme (see above).
template <typename P>
EIGEN_ALWAYS_INLINE P ExpPolyQ4(const P& r) {
  P q = pmadd(Set<P>(0.00833807234), r, Set<P>(0.0418725647));
  q = pmadd(q, r, Set<P>(0.166668311));
  q = pmadd(q, r, Set<P>(0.49999404));
  return pmadd(q, r, One<P>());
}
// 2^m for m in [-126, 127], from ExpParts::shifted.
template <typename P>
EIGEN_ALWAYS_INLINE P Pow2(const P& shifted) {
  using PI = typename unpacket_traits<P>::integer_packet;
  return preinterpret<P>(
      plogical_shift_left<23>(padd(preinterpret<PI>(shifted), pset1<PI>(127))));
}
// The lanes of x that need ExpFloat's slow scaling (|x| > 87, ±inf), and
// whether there is one. NaN lanes compare false and stay on the fast path,
// which propagates them.
//
// A packet with such a lane takes the wide path, where its other lanes get the
// fast path's value, selected lane by lane: a lane's result never depends on
// its packet's neighbours, so the same x gives the same bits wherever it sits
// in a tensor (tests/core/streaming_test.cc).
template <typename P>
EIGEN_ALWAYS_INLINE Mask<P> WideLanes(const P& x) {
  return MaskLt(Set<P>(87.0), pabs(x));
}
template <typename P>
EIGEN_ALWAYS_INLINE bool ExpNeedsWideRange(const P& x) {
  return MaskAny<P>(WideLanes(x));
}
template <typename P>
inline P ExpFloatWide(const P& x_in) {
  using PI = typename unpacket_traits<P>::integer_packet;
  const P x = pmax(pmin(x_in, Set<P>(89.0)), Set<P>(-104.0));
  const ExpParts<P> e = ExpReduce(x);
  const P y = pmadd(ExpPolyQ4(e.r), e.r, One<P>());
  // m in [-150, 128]: 2^m = 2^(m>>1) · 2^(m - (m>>1)), each factor a normal
  // float.
  const PI mi = pcast<P, PI>(e.m);
  const PI m1 = parithmetic_shift_right<1>(mi);
  const PI bias = pset1<PI>(127);
  const P s1 = preinterpret<P>(plogical_shift_left<23>(padd(m1, bias)));
  const P s2 =
      preinterpret<P>(plogical_shift_left<23>(padd(psub(mi, m1), bias)));
  return KeepNaN(x_in, pmul(pmul(y, s1), s2));
}
// ExpFloat where the caller has checked !ExpNeedsWideRange(x).
template <typename P>
EIGEN_ALWAYS_INLINE P ExpFloatNarrow(const P& x) {
  const ExpParts<P> e = ExpReduce(x);
  return pmul(pmadd(ExpPolyQ4(e.r), e.r, One<P>()), Pow2(e.shifted));
}
template <typename P>
EIGEN_ALWAYS_INLINE P ExpFloat(const P& x) {
  if (ExpNeedsWideRange(x)) {
    return MaskSelect(WideLanes(x), ExpFloatWide(x), ExpFloatNarrow(x));
  }
  return ExpFloatNarrow(x);
}

// The two ways a kernel multiplies by a factor built from e^x: TimesVanishing,
// or the plain product where the factor cannot be 0. Add(a, b, c) is a·b + c
// fused in both, so that a lane's result does not depend on which way its
// packet took (the compiler would fuse the plain product into a following add
// by itself, but not TimesVanishing's select).
struct PlainTimes {
  template <typename P>
  EIGEN_ALWAYS_INLINE P operator()(const P& a, const P& b) const {
    return pmul(a, b);
  }
  template <typename P>
  EIGEN_ALWAYS_INLINE P Add(const P& a, const P& b, const P& c) const {
    return pmadd(a, b, c);
  }
};
// c + t, t a TimesVanishing product: where c is 0 too, t's signed zero (c + ±0
// would be +0), which is the exact value's sign in every use: the derivatives
// s + βx·s(1-s), Φ + x·φ, t + x·σ(1-t²) and GELU tanh's, whose product term
// outweighs c in the far left tail (e^x·(1 + x) and the like).
template <typename P>
EIGEN_ALWAYS_INLINE P PlusVanishing(const P& c, const P& t) {
  return Select(IsZero(c), t, padd(c, t));
}
struct VanishingTimes {
  template <typename P>
  EIGEN_ALWAYS_INLINE P operator()(const P& a, const P& b) const {
    return TimesVanishing(a, b);
  }
  template <typename P>
  EIGEN_ALWAYS_INLINE P Add(const P& a, const P& b, const P& c) const {
    return Select(IsZero(b), PlusVanishing(c, TimesVanishing(a, b)),
                  pmadd(a, b, c));
  }
};

// e^x to the last subnormal, exactly 0 at -inf. float32 uses ExpFloat. For
// float64, Eigen's pexp clamps its argument near -709 and returns a constant
// below; there e^x = (e^{x/2})² (exact to ~2 ulp of the subnormal result); that
// second exp runs only when a lane needs it.
template <typename P>
EIGEN_ALWAYS_INLINE P Exp(const P& x) {
  if constexpr (std::is_same_v<ScalarOf<P>, float>) {
    return ExpFloat(x);
  } else {
    P y = pexp(x);
    const Mask<P> low = MaskLt(x, Set<P>(-708.0));
    if (MaskAny<P>(low)) {
      const P h = pexp(pmul(x, Set<P>(0.5)));
      y = MaskSelect(low, pmul(h, h), y);
    }
    return y;
  }
}
// f(e^x, times). Where every float32 lane has |x| ≤ 87, e^x ≥ e^{-87} > 0:
// there the exp skips its range check and `times` is PlainTimes, for the
// factors the caller builds from e^x that are nonzero because e^x is (both
// products round alike, without TimesVanishing's selects). Elsewhere Exp and
// VanishingTimes.
template <typename P, typename F>
EIGEN_ALWAYS_INLINE P WithExp(const P& x, const F& f) {
  if constexpr (std::is_same_v<ScalarOf<P>, float>) {
    if (!ExpNeedsWideRange(x)) return f(ExpFloatNarrow(x), PlainTimes{});
  }
  return f(Exp(x), VanishingTimes{});
}

// e^x - 1 with relative precision near 0.
//
// float32: e^x - 1 = 2^m·(e^r - 1) + (2^m - 1), with e^r - 1 = r·q(r) formed
// without adding 1 (ExpParts). For m = 0 that is r·q exactly, so small x keep
// every digit; for m ≠ 0, |e^x - 1| > 0.29 and the sum cancels at most a
// factor ~1.4. Lanes beyond ±87 take the series-or-exp form below.
//
// That form (float64 always): for |x| < 1/2 the Taylor series (to x^8/8! in
// float, x^16/16! in double: the first omitted term is below 1e-8 resp. 1e-19
// relative), elsewhere e^x - 1, where |e^x - 1| > 0.39 so the subtraction costs
// under 2 ulp. No log, unlike Eigen's generic expm1.
template <typename P>
inline P Expm1SeriesOrExp(const P& x) {
  constexpr int kDegree = std::is_same_v<ScalarOf<P>, float> ? 8 : 16;
  double inv_factorial[kDegree + 1];
  inv_factorial[0] = 1;
  for (int k = 1; k <= kDegree; ++k)
    inv_factorial[k] = inv_factorial[k - 1] / k;
  P poly = Set<P>(inv_factorial[kDegree]);
  for (int k = kDegree - 1; k >= 2; --k)
    poly = pmadd(poly, x, Set<P>(inv_factorial[k]));
  const P series = pmadd(pmul(x, x), poly, x);
  return MaskSelect(MaskLt(pabs(x), Set<P>(0.5)), series,
                    psub(Exp(x), One<P>()));
}
template <typename P>
EIGEN_ALWAYS_INLINE P Expm1FloatNarrow(const P& x) {
  const ExpParts<P> e = ExpReduce(x);
  const P scale = Pow2(e.shifted);
  return pmadd(scale, pmul(ExpPolyQ(e.r), e.r), psub(scale, One<P>()));
}
template <typename P>
EIGEN_ALWAYS_INLINE P Expm1(const P& x) {
  if constexpr (std::is_same_v<ScalarOf<P>, float>) {
    if (ExpNeedsWideRange(x)) {
      return MaskSelect(WideLanes(x), Expm1SeriesOrExp(x), Expm1FloatNarrow(x));
    }
    return Expm1FloatNarrow(x);
  } else {
    return Expm1SeriesOrExp(x);
  }
}

// e^x and e^x - 1 together, from one reduction where float32 allows (ELU's
// backward needs both): e^x = 2^m·(1 + r·q), e^x - 1 = 2^m·r·q + (2^m - 1).
template <typename P>
struct ExpPair {
  P exp, expm1;
};
template <typename P>
EIGEN_ALWAYS_INLINE ExpPair<P> ExpAndExpm1(const P& x) {
  if constexpr (std::is_same_v<ScalarOf<P>, float>) {
    const ExpParts<P> e = ExpReduce(x);
    const P scale = Pow2(e.shifted);
    const P rq = pmul(ExpPolyQ(e.r), e.r);  // e^r - 1
    const ExpPair<P> narrow = {pmadd(scale, rq, scale),
                               pmadd(scale, rq, psub(scale, One<P>()))};
    if (!ExpNeedsWideRange(x)) return narrow;
    const Mask<P> wide = WideLanes(x);
    return {MaskSelect(wide, ExpFloatWide(x), narrow.exp),
            MaskSelect(wide, Expm1SeriesOrExp(x), narrow.expm1)};
  }
  return {Exp(x), Expm1(x)};
}

// σ(x) and σ(-x) from e = e^{-|x|}: σ(|x|) = 1/(1+e), σ(-|x|) = e/(1+e). No
// overflow, and the small one is never formed as 1 - (something near 1), so
// both keep relative precision.
template <typename P>
struct SigmoidPair {
  P pos;   // σ(x)
  P neg;   // σ(-x)
  P prod;  // σ(x)σ(-x) = e/(1+e)², relative-accurate even where it underflows
           // slowly
};
// Sigmoids(x) from e = e^{-|x|}, computed by the caller.
template <typename P>
EIGEN_ALWAYS_INLINE SigmoidPair<P> SigmoidsFromExp(const P& x, const P& e) {
  const P big = pdiv(One<P>(), padd(One<P>(), e));  // σ(|x|)
  const P small = pmul(e, big);                     // σ(-|x|)
  const Mask<P> negative = MaskLt(x, Zero<P>());
  return {MaskSelect(negative, small, big), MaskSelect(negative, big, small),
          pmul(small, big)};
}
template <typename P>
EIGEN_ALWAYS_INLINE SigmoidPair<P> Sigmoids(const P& x) {
  return SigmoidsFromExp(x, Exp(NegAbs(x)));
}
template <typename P>
EIGEN_ALWAYS_INLINE P Sigmoid(const P& x) {
  const P e = Exp(NegAbs(x));
  const P big = pdiv(One<P>(), padd(One<P>(), e));
  return MaskSelect(MaskLt(x, Zero<P>()), pmul(e, big), big);
}

// tanh(x) = sign(x)·(-m)/(2+m) with m = expm1(-2|x|): no cancellation near 0
// (expm1), and the limit ±1 at ±inf.
template <typename P>
EIGEN_ALWAYS_INLINE P Tanh(const P& x) {
  const P m = Expm1(pmul(Set<P>(-2.0), pabs(x)));
  const P t = pdiv(psub(Zero<P>(), m), padd(Set<P>(2.0), m));  // +0 at m = ±0
  return WithSignOf(t, x);
}
// 1 - tanh²(x) = 4e/(1+e)² with e = e^{-2|x|}: relative precision in the tails,
// where 1 - y² from a rounded y would be 0.
template <typename P>
EIGEN_ALWAYS_INLINE P TanhDerivative(const P& x) {
  const P e = Exp(pmul(Set<P>(-2.0), pabs(x)));
  const P r = pdiv(One<P>(), padd(One<P>(), e));
  return pmul(Set<P>(4.0), pmul(e, pmul(r, r)));
}

// Φ(x) = erfc(-x/√2)/2 for float32, from gauss = e^{-x²/2} (WithNormal). With z
// = |x|/√2 and u = 1/(1 + 0.4z): erfc(z)/2 = u·Q(u)·e^{-z²}, Q a degree-8
// polynomial fitted (scripts/fit_polynomials.py: minimax in relative error) to
// erfc(z)e^{z²}/(2u) over all z ≥ 0: 1.3e-7 in exact arithmetic, 3.9e-7
// evaluated in float32 (Horner's scheme, see ExpPolyQ). The form has erfc's
// asymptote (e^{-z²}/(z√π)), so the left tail keeps relative precision; the one
// error that grows there is the rounding of x² inside exp, ≈ x²·6e-8 relative,
// which the accuracy contract allows through GELU's condition number (≈ x² in
// that tail).
template <typename P>
struct NormalParts {
  P cdf;    // Φ(x)
  P gauss;  // e^{-x²/2}
};
template <typename P>
EIGEN_ALWAYS_INLINE NormalParts<P> NormalFloatFromGauss(const P& x,
                                                        const P& gauss) {
  const P u = pdiv(One<P>(), pmadd(Set<P>(0.28284271247461901),  // 0.4/√2
                                   pabs(x), One<P>()));
  static constexpr float kQ[9] = {0.112837933,  0.112834804,   0.103921257,
                                  0.0842718855, 0.0707115233,  -0.00279335608,
                                  0.084528625,  -0.0914409459, 0.0251283329};
  P q = Set<P>(kQ[8]);
  for (int i = 7; i >= 0; --i) q = pmadd(q, u, Set<P>(kQ[i]));
  const P tail = pmul(pmul(u, q), gauss);  // Φ(-|x|)
  return {MaskSelect(MaskLt(x, Zero<P>()), tail, psub(One<P>(), tail)), gauss};
}

// Φ(x) and e^{-x²/2} for float64, the same form with a degree-20 Q and
// u = 1/(1 + 0.25z): Q is the Chebyshev fit (scripts/fit_polynomials.py, in
// 40-digit arithmetic) to erfc(z)e^{z²}/(2u) over z in [0, 27.5], where
// u ≥ 0.127: erfc(z)e^{z²} has an essential singularity at u = 0, so a fit
// down to u = 0 stalls near 1e-14, while this range converges geometrically:
// 2.2e-16 relative with the coefficients rounded to double, 7.4e-16 evaluated
// in double (Estrin's scheme here: degree 20 by Horner's would be a chain of 20
// dependent FMAs). Beyond z = 27.5 (|x| > 38.9)
// e^{-z²} underflows to 0, so the tail is 0 whatever Q extrapolates to. No
// libm call, no cancellation: the tail Φ(-|x|) is formed directly and
// 1 - tail ≥ 1/2. As in float32, the rounding of x² inside exp (x²·1.1e-16
// relative) is the one error that grows in the left tail, within GELU's
// condition number there.
template <typename P>
EIGEN_ALWAYS_INLINE NormalParts<P> NormalDouble(const P& x) {
  static constexpr double kQ[21] = {
      0.07052369798480959,   0.07052369556683562,  0.0683198952637255,
      0.06391108377498561,   0.057518402482180445, 0.04942697460849679,
      0.04108782406545758,   0.02863939805921397,  0.031952288262094036,
      -0.012986273878832047, 0.07033940537587291,  -0.1041033681916037,
      0.14043155163612972,   -0.12338914801428175, 0.04893202060553913,
      0.037775484990230514,  -0.08387455838317233, 0.06994038701203119,
      -0.03211487234848012,  0.007996886000422303, -0.00085077487165496};
  const P u = pdiv(One<P>(), pmadd(Set<P>(0.17677669529663688),  // 0.25/√2
                                   pabs(x), One<P>()));
  // Estrin's scheme: pairs in u, then u², u⁴, u⁸, u¹⁶.
  const P u2 = pmul(u, u);
  const P u4 = pmul(u2, u2);
  const P u8 = pmul(u4, u4);
  const P u16 = pmul(u8, u8);
  P a[10];
  for (int i = 0; i < 10; ++i) {
    a[i] = pmadd(Set<P>(kQ[2 * i + 1]), u, Set<P>(kQ[2 * i]));
  }
  P b[5];
  for (int i = 0; i < 5; ++i) b[i] = pmadd(a[2 * i + 1], u2, a[2 * i]);
  const P d0 = pmadd(b[1], u4, b[0]);
  const P d1 = pmadd(b[3], u4, b[2]);
  const P d2 = pmadd(Set<P>(kQ[20]), u4, b[4]);
  const P q = pmadd(d2, u16, pmadd(d1, u8, d0));
  const P gauss = Exp(pmul(pmul(x, x), Set<P>(-0.5)));
  const P tail = pmul(pmul(u, q), gauss);  // Φ(-|x|)
  return {MaskSelect(MaskLt(x, Zero<P>()), tail, psub(One<P>(), tail)), gauss};
}

// f({Φ(x), e^{-x²/2}}, times) for either dtype, `times` as in WithExp: the
// plain product where every float32 lane has x²/2 ≤ 87, so that
// e^{-x²/2} ≥ e^{-87} and Φ(x), φ(x) > 0.
template <typename P, typename F>
EIGEN_ALWAYS_INLINE P WithNormal(const P& x, const F& f) {
  if constexpr (std::is_same_v<ScalarOf<P>, float>) {
    return WithExp(pmul(pmul(x, x), Set<P>(-0.5)),
                   [&](const P& gauss, const auto& times) ACTD_INLINE_LAMBDA {
                     return f(NormalFloatFromGauss(x, gauss), times);
                   });
  } else {
    return f(NormalDouble(x), VanishingTimes{});
  }
}

}  // namespace pm
}  // namespace ACTD_ISA
}  // namespace actd

#endif  // ACTD_SERVER_CORE_PACKET_MATH_H_
