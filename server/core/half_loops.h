// The 16-bit element-wise loops: bfloat16 or float16 storage, float32 compute,
// in registers. Each packet of 16-bit elements is widened on load (exact), goes
// through the float32 kernel (the same functor as the float32 loops), and is
// rounded once on store to nearest even (half.h's rules: NaN quiet, overflow
// to ±inf, float16 subnormals). Compiled once per instruction set with
// kernels_isa.cc:
// - AVX-512: vpmovzxwd + shift (bfloat16) / vcvtph2ps (float16) on load;
//   vcvtneps2bf16 where the CPU has AVX-512 BF16 (kBf16Insn), else integer
//   rounding, and vcvtps2ph with the round-to-nearest-even immediate on store;
// - AVX2: the same 8 lanes wide with F16C;
// - baseline: half.h's portable bit arithmetic per lane.
// bfloat16 forwards store two packets at once (StorePair); those of exact
// kernels (relu, identity, relu6) and of leaky_relu and prelu take the even
// and odd halves of 2W inputs as the two packets instead, with no widening or
// narrowing (ForwardPairsExact, ForwardPairsUnflagged). Outputs of 16 MiB and
// more are stored non-temporally, as the float32 loops store theirs.
//
// Results the float32 kernel cannot be trusted to round correctly to 16 bits
// (half_bits::SuspectBf16 / SuspectF16: within 2 float32 ulps of a rounding
// boundary, and subnormal results) are flagged lane by lane in registers; the
// flagged lanes are redone with the float64 functor (Refiner, which remembers
// the call's redos by input) and rounded once from
// float64 (through round-to-odd float32). Parameter-gradient
// terms are summed exactly as the float32 loops sum them (float32 packets over
// blocks of 64 packets, then float64).
#ifndef ACTD_SERVER_CORE_HALF_LOOPS_H_
#define ACTD_SERVER_CORE_HALF_LOOPS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "server/core/elementwise.h"
#include "server/core/half.h"
#include "server/core/kernel_table.h"
#include "server/core/packet_math.h"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace actd {
inline namespace ACTD_ISA {
namespace half_loops {

using P = pm::PacketOf<float>;
constexpr int64_t W = pm::unpacket_traits<P>::size;
constexpr int64_t kBlock = 64 * W;  // the float32 loops' summing block
// Streamed outputs (KernelArgs::stream) start at a multiple of this many
// bytes: two packets of 16-bit values, stored by one instruction on AVX-512
// BF16.
constexpr uintptr_t kStreamAlign = 2 * W * 2;

template <typename H>
constexpr bool kBf16 = std::is_same_v<H, BFloat16>;

// The lanes of a packet as float32, through memory (baseline, and tails).
template <typename H>
inline P LoadPortable(const H* p) {
  alignas(64) float f[W];
  for (int64_t i = 0; i < W; ++i) f[i] = static_cast<float>(p[i]);
  return pm::pload<P>(f);
}
template <typename H>
inline void StorePortable(H* p, const P& v) {
  alignas(64) float f[W];
  pm::pstore(f, v);
  for (int64_t i = 0; i < W; ++i) p[i] = H(f[i]);
}

// W 16-bit elements at p, widened.
template <typename H>
inline P Load(const H* p) {
#if defined(__AVX512F__)
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if constexpr (kBf16<H>) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else {
    return _mm512_cvtph_ps(h);
  }
#elif defined(__AVX2__) && defined(__F16C__)
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kBf16<H>) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else {
    return _mm256_cvtph_ps(h);
  }
#else
  return LoadPortable(p);
#endif
}

// How a float32 packet becomes 16-bit values on store.
enum class Narrow {
  kRound,  // round to nearest even in integer arithmetic (vcvtps2ph: float16)
  kInsn,   // bfloat16 with vcvtneps2bf16 (the CPU has AVX-512 BF16)
  kExact,  // the values are exact in the type (kExactResults): bfloat16 keeps
           // the high half, with NaNs made quiet
};

#if defined(__AVX512F__)
// FloatToBf16 on 16 lanes: + 0x7FFF + the kept half's lowest bit, NaNs quiet;
// with kExact the values are bfloat16 already and the add is left out.
template <bool kExact>
inline __m256i RoundBf16(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  __m512i rounded = _mm512_srli_epi32(u, 16);
  if constexpr (!kExact) {
    const __m512i lsb = _mm512_and_si512(rounded, _mm512_set1_epi32(1));
    rounded = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb),
        16);
  }
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_cvtepi32_epi16(_mm512_mask_or_epi32(
      rounded, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
}
#elif defined(__AVX2__)
// The same on 8 lanes, each result in the low half of its 32-bit lane.
template <bool kExact>
inline __m256i RoundBf16(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  __m256i rounded = _mm256_srli_epi32(u, 16);
  if constexpr (!kExact) {
    const __m256i lsb = _mm256_and_si256(rounded, _mm256_set1_epi32(1));
    rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb),
        16);
  }
  const __m256i quiet =
      _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_blendv_epi8(rounded, quiet, nan);
}
#endif

// Rounds v's W lanes to H at p; with kStream non-temporally (p aligned to the
// W values' bytes). Narrow::kInsn rounds like FloatToBf16 except that it
// flushes float32 subnormals (Intel SDM: "denormal inputs are treated as
// zero"); Refine redoes those lanes.
template <typename H, Narrow kMode, bool kStream = false>
inline void Store(H* p, const P& v) {
#if defined(__AVX512F__)
  __m256i h;
  if constexpr (!kBf16<H>) {
    h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#if defined(__AVX512BF16__)
  } else if constexpr (kMode == Narrow::kInsn) {
    // Flushes float32 subnormal inputs to ±0; those lanes are suspect (see
    // Suspect) and get redone from float64.
    h = (__m256i)_mm512_cvtneps_pbh(v);
#endif
  } else {
    h = RoundBf16<kMode == Narrow::kExact>(v);
  }
  if constexpr (kStream) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), h);
  } else {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
  }
#elif defined(__AVX2__) && defined(__F16C__)
  __m128i h;
  if constexpr (!kBf16<H>) {
    h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  } else {
    const __m256i r = RoundBf16<kMode == Narrow::kExact>(v);
    h = _mm256_castsi256_si128(
        _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08));
  }
  if constexpr (kStream) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(p), h);
  } else {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
  }
#else
  StorePortable(p, v);
#endif
}

// Whether Forward narrows bfloat16 two packets at a time: with one
// vcvtne2ps2bf16 on AVX-512 BF16 (refined kernels, kInsn), with one pack of the
// integer-rounded halves on AVX2.
template <typename H, Narrow kMode>
constexpr bool kPairs =
#if defined(__AVX512BF16__)
    kBf16<H>&& kMode == Narrow::kInsn;
#elif defined(__AVX2__)
    kBf16<H>;
#else
    false;
#endif

// Rounds the lanes of v0, then v1, to H at p (where kPairs); with kStream
// non-temporally (p aligned to the 2W values' bytes).
template <typename H, Narrow kMode, bool kStream>
inline void StorePair(H* p, const P& v0, const P& v1) {
#if defined(__AVX512BF16__)
  const __m512i h = (__m512i)_mm512_cvtne2ps_pbh(v1, v0);
  if constexpr (kStream) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(p), h);
  } else {
    _mm512_storeu_si512(p, h);
  }
#elif defined(__AVX2__)
  constexpr bool kExact = kMode == Narrow::kExact;
  const __m256i h = _mm256_permute4x64_epi64(
      _mm256_packus_epi32(RoundBf16<kExact>(v0), RoundBf16<kExact>(v1)), 0xD8);
  if constexpr (kStream) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), h);
  } else {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), h);
  }
#endif
}

// bfloat16 forward of a kExactResults kernel over the pairs of packets from
// x[i] while a pair fits before `end`; advances i. The even and the odd
// values of 2W inputs are two packets (a shift and an and: no widening load,
// no narrowing pack), and as the results are inputs or constants exact in
// bfloat16, their low halves are zero and the two merge by a shift and an
// or, NaNs made quiet.
#if defined(__AVX512F__) || defined(__AVX2__)
constexpr bool kExactPairs = true;
template <bool kStream, typename K32>
EIGEN_ALWAYS_INLINE void ForwardPairsExact(const K32& k, const BFloat16* x,
                                           BFloat16* y, int64_t& i,
                                           int64_t end) {
#if defined(__AVX512F__)
  using V = __m512i;
  const V high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  auto quieted = [](const P& v) {
    const V u = _mm512_castps_si512(v);
    return _mm512_mask_or_epi32(u, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), u,
                                _mm512_set1_epi32(0x00400000));
  };
  for (; i + 2 * W <= end; i += 2 * W) {
    const V h = _mm512_loadu_si512(x + i);
    const P even = k.Forward(_mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
    const P odd = k.Forward(_mm512_castsi512_ps(_mm512_and_si512(h, high)));
    const V out =
        _mm512_or_si512(_mm512_srli_epi32(quieted(even), 16), quieted(odd));
    if constexpr (kStream) {
      _mm512_stream_si512(reinterpret_cast<V*>(y + i), out);
    } else {
      _mm512_storeu_si512(y + i, out);
    }
  }
#else
  using V = __m256i;
  const V high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  auto quieted = [](const P& v) {
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    return _mm256_castps_si256(_mm256_or_ps(
        v, _mm256_and_ps(nan,
                         _mm256_castsi256_ps(_mm256_set1_epi32(0x00400000)))));
  };
  for (; i + 2 * W <= end; i += 2 * W) {
    const V h = _mm256_loadu_si256(reinterpret_cast<const V*>(x + i));
    const P even = k.Forward(_mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
    const P odd = k.Forward(_mm256_castsi256_ps(_mm256_and_si256(h, high)));
    const V out =
        _mm256_or_si256(_mm256_srli_epi32(quieted(even), 16), quieted(odd));
    if constexpr (kStream) {
      _mm256_stream_si256(reinterpret_cast<V*>(y + i), out);
    } else {
      _mm256_storeu_si256(reinterpret_cast<V*>(y + i), out);
    }
  }
#endif
}
#else
constexpr bool kExactPairs = false;
template <bool kStream, typename K32>
void ForwardPairsExact(const K32&, const BFloat16*, BFloat16*, int64_t&,
                       int64_t);  // where kExactPairs
#endif

// Whether Suspect may skip float16's subnormal-midpoint test (six to eight
// vector operations) in a packet with no result below float16's normals. The
// skip is a branch, so the loops take it (Suspect<H, true>, RunGated) only
// while such packets are rare, decided per block from the previous block:
// where most packets hold a tiny result (GELU's left tail on normal(0, 3)
// data: two packets in three) an always-taken skip mispredicted and made
// float16 GELU 1.5x slower; where few do, skipping made float16 forwards
// 18-30% faster (leaky_relu, prelu, swish, mish, tanh on AVX-512; AVX2 alike).
struct TinyGate {
  bool skip = true;
  int small_packets = 0;  // in this block
  void NextBlock() {
    skip = small_packets <= 4;
    small_packets = 0;
  }
};

// Runs packets(std::true_type) where float16's skip is on, else
// packets(std::false_type).
template <typename H, typename Packets>
EIGEN_ALWAYS_INLINE void RunGated(const TinyGate& gate, Packets& packets) {
  if constexpr (kBf16<H>) {
    packets(std::false_type{});
  } else if (gate.skip) {
    packets(std::true_type{});
  } else {
    packets(std::false_type{});
  }
}

// Which lanes of v may be suspect (half_bits::SuspectBf16 / SuspectF16);
// Lanes(flags) has bit i for lane i, and Refine redoes exactly those. Cheap on
// AVX-512, where every vector operation counts: the near-a-boundary test runs
// on the 16-bit halves (bit 2i of its 32-bit mask is float i's low half) and
// bfloat16's tiny test is one fpclass (float32 subnormal); the flags keep the
// first mask's even bits in their low half and the per-lane one in their high
// half, and only Refine packs them (the test in 32-bit lanes, one vector
// operation more, made the hot loops up to 15% slower). kSkip and
// small_packets: TinyGate. kOneRounding: the kernel's, and only results within
// a float32 ulp of a midpoint need flagging (half_bits::NearMidpointBf16 /
// NearMidpointF16); AVX-512 flags its wider set all the same (a superset, in
// two or three vector operations already, and its float32 subnormals must be
// flagged where vcvtneps2bf16 narrows), AVX2 and baseline only those.
#if defined(__AVX512F__)
using Flags = uint64_t;
inline uint32_t Lanes(Flags f) {
  uint32_t even = static_cast<uint32_t>(f);  // bit 2i -> bit i
  even = (even | (even >> 1)) & 0x33333333u;
  even = (even | (even >> 2)) & 0x0F0F0F0Fu;
  even = (even | (even >> 4)) & 0x00FF00FFu;
  even = (even | (even >> 8)) & 0x0000FFFFu;
  return even | static_cast<uint32_t>(f >> 32);
}
template <typename H, bool kSkip = false, bool kOneRounding = false>
inline Flags Suspect(const P& v, int* small_packets = nullptr) {
  const __m512i u = _mm512_castps_si512(v);
  if constexpr (kBf16<H>) {
    const __mmask32 near = _mm512_cmple_epu16_mask(
        _mm512_add_epi16(u, _mm512_set1_epi16(static_cast<short>(0x8002))),
        _mm512_set1_epi16(4));
    return (Flags{_mm512_fpclass_ps_mask(v, 0x20)} << 32) |
           (near & 0x55555555u);
  } else {
    const __mmask32 near = _mm512_cmple_epu16_mask(
        _mm512_and_si512(_mm512_add_epi16(u, _mm512_set1_epi16(0x1002)),
                         _mm512_set1_epi16(0x1FFF)),
        _mm512_set1_epi16(4));
    // half_bits::SuspectF16Subnormal, 16 lanes at once: with t = |v|·2^24,
    // g = t - 1/2 (exact, one fused operation) and vreduceps' g - round(g),
    // the distance of t from the nearest midpoint k + 1/2.
    const __m512 a = _mm512_abs_ps(v);
    const __mmask16 tiny =
        _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p-14f), _CMP_LT_OQ);
    if (small_packets != nullptr) *small_packets += tiny != 0;
    if (kSkip && tiny == 0) return near & 0x55555555u;
    const __m512 g =
        _mm512_fmsub_ps(a, _mm512_set1_ps(0x1p24f), _mm512_set1_ps(0.5f));
    const __m512 off =
        _mm512_reduce_round_ps(g, _MM_FROUND_TO_NEAREST_INT, _MM_FROUND_NO_EXC);
    const __mmask16 near_mid = _mm512_cmp_ps_mask(
        _mm512_abs_ps(off), _mm512_mul_ps(a, _mm512_set1_ps(0x1p10f)),
        _CMP_LE_OQ);
    return (Flags{static_cast<__mmask16>(tiny & near_mid)} << 32) |
           (near & 0x55555555u);
  }
}
// The deferred passes (kDeferFlags, described with the AVX2 ones below).
// bfloat16: the even and odd values of 32 inputs as two packets, each result
// u rounded as the high half of t = u + 0x8001, the least of the t's low
// halves kept (near: below 3). As the AVX2 pass below, where the NaN rule is.
template <bool kStream, typename K32>
EIGEN_ALWAYS_INLINE bool ForwardPairsUnflagged(const K32& k, const BFloat16* x,
                                               BFloat16* y, int64_t from,
                                               int64_t end) {
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m512i half = _mm512_set1_epi32(0x8001);
  __m512i least = _mm512_set1_epi32(-1);  // its even 16-bit lanes
  for (int64_t i = from; i + 2 * W <= end; i += 2 * W) {
    const __m512i h = _mm512_loadu_si512(x + i);
    const P even = k.Forward(_mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
    const P odd = k.Forward(_mm512_castsi512_ps(_mm512_and_si512(h, high)));
    const __m512i t_even = _mm512_add_epi32(_mm512_castps_si512(even), half);
    const __m512i t_odd = _mm512_add_epi32(_mm512_castps_si512(odd), half);
    least = _mm512_min_epu16(least, _mm512_min_epu16(t_even, t_odd));
    const __m512i out = _mm512_mask_blend_epi16(
        0xAAAAAAAAu, _mm512_srli_epi32(t_even, 16), t_odd);
    if constexpr (kStream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(y + i), out);
    } else {
      _mm512_storeu_si512(y + i, out);
    }
  }
  return (_mm512_cmple_epu16_mask(least, _mm512_set1_epi16(2)) & 0x55555555u) ==
         0;
}

// float16: as the AVX2 pass below (the low 13 bits of |u|, lifted by 2^-14
// below float16's normals, + 0x1001; near: below 3), the lift only in the
// rare pair of packets with a result below the normals (a branch, where it
// cost a compare and a masked add per packet).
template <bool kStream, typename K32>
EIGEN_ALWAYS_INLINE bool ForwardPairsUnflagged(const K32& k, const Float16* x,
                                               Float16* y, int64_t from,
                                               int64_t end) {
  const __m512i half = _mm512_set1_epi32(0x1001);
  const __m512 normal = _mm512_set1_ps(0x1p-14f);
  __m512i least = _mm512_set1_epi32(-1);  // its even 16-bit lanes
  auto lows = [&](const __m512 a) {
    return _mm512_slli_epi32(_mm512_add_epi32(_mm512_castps_si512(a), half), 3);
  };
  auto lifted = [&](const __m512 a) {
    return _mm512_mask_add_ps(a, _mm512_cmp_ps_mask(a, normal, _CMP_LT_OQ), a,
                              normal);
  };
  for (int64_t i = from; i + 2 * W <= end; i += 2 * W) {
    const P v0 = k.Forward(Load(x + i));
    const P v1 = k.Forward(Load(x + i + W));
    Store<Float16, Narrow::kRound, kStream>(y + i, v0);
    Store<Float16, Narrow::kRound, kStream>(y + i + W, v1);
    __m512 a0 = _mm512_abs_ps(v0);
    __m512 a1 = _mm512_abs_ps(v1);
    const __m512i smaller =
        _mm512_min_epu32(_mm512_castps_si512(a0), _mm512_castps_si512(a1));
    if (_mm512_cmplt_epu32_mask(smaller, _mm512_castps_si512(normal)) != 0)
        [[unlikely]] {
      a0 = lifted(a0);
      a1 = lifted(a1);
    }
    least = _mm512_min_epu16(least, _mm512_min_epu16(lows(a0), lows(a1)));
  }
  return (_mm512_cmple_epu16_mask(least, _mm512_set1_epi16(2 << 3)) &
          0x55555555u) == 0;
}
#elif defined(__AVX2__)
// The same tests on 8 lanes, in 32-bit lanes (AVX2 has no unsigned compare):
// bit i for lane i. Each is written as its complement, `x > c` (one
// vpcmpgtd; GCC turns `c > x` into vpminsd + vpcmpeqd), and the flags are
// the lanes cleared of both.
using Flags = uint32_t;
inline uint32_t Lanes(Flags f) { return f; }
inline Flags NotIn(__m256i clear) {
  return ~static_cast<Flags>(_mm256_movemask_ps(_mm256_castsi256_ps(clear))) &
         0xFFu;
}
template <typename H, bool kSkip = false, bool kOneRounding = false>
inline Flags Suspect(const P& v, int* small_packets = nullptr) {
  const __m256i u = _mm256_castps_si256(v);
  // More than kUlps float32 ulps from a midpoint (the low bits' pattern).
  constexpr int kMask = kBf16<H> ? 0xFFFF : 0x1FFF;
  constexpr int kUlps = kOneRounding ? 1 : 2;
  const __m256i far = _mm256_cmpgt_epi32(
      _mm256_and_si256(
          _mm256_add_epi32(u, _mm256_set1_epi32((kMask + 1) / 2 + kUlps)),
          _mm256_set1_epi32(kMask)),
      _mm256_set1_epi32(2 * kUlps));
  if constexpr (kBf16<H> && kOneRounding) {
    return NotIn(far);
  } else if constexpr (kBf16<H>) {
    // Not half_bits::SuspectBf16's float32 subnormal (0 < |u| < 0x00800000):
    // |u| - 1 >= 0x7FFFFF unsigned, that is |u| + 0x7FFFFFFF > 0x807FFFFE
    // signed.
    const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i not_tiny =
        _mm256_cmpgt_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(0x7FFFFFFF)),
                           _mm256_set1_epi32(static_cast<int>(0x807FFFFEu)));
    return NotIn(_mm256_and_si256(far, not_tiny));
  } else {
    // half_bits::SuspectF16Subnormal.
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v);
    const __m256 small = _mm256_cmp_ps(a, _mm256_set1_ps(0x1p-14f), _CMP_LT_OQ);
    const bool none = _mm256_testz_ps(small, small);
    if (small_packets != nullptr) *small_packets += !none;
    if (kSkip && none) return NotIn(far);
    const __m256 t = _mm256_mul_ps(a, _mm256_set1_ps(0x1p24f));
    const __m256 f = _mm256_sub_ps(t, _mm256_floor_ps(t));
    const __m256 off = _mm256_andnot_ps(_mm256_set1_ps(-0.0f),
                                        _mm256_sub_ps(f, _mm256_set1_ps(0.5f)));
    const __m256i tiny = _mm256_castps_si256(_mm256_and_ps(
        small, _mm256_cmp_ps(off, _mm256_mul_ps(t, _mm256_set1_ps(0x1p-14f)),
                             _CMP_LE_OQ)));
    return NotIn(_mm256_andnot_si256(tiny, far));
  }
}
// Deferred flags (kDeferFlags): a kOneRounding kernel's 16-bit result needs
// float64 only within a float32 ulp of a midpoint (3 patterns of the low bits
// in 2^16 for bfloat16, in 2^13 for float16, whose subnormals' midpoints are
// found as below): so rare that the forward first runs a block's pairs of
// packets flagging nothing, keeping only whether some result was such, and does
// the rare block where one was again with flags (ForwardPairs). The same on
// AVX-512, 16 lanes wide (above).

// For bfloat16, the even and the odd values of 16 inputs are two packets (a
// shift and an and; no widening load, no lane-crossing pack); each result u
// becomes the high half of t = u + 0x8001 (to nearest but at the three low
// halves 0x7FFF, 0x8000, 0x8001), and the loop keeps the least of the t's low
// halves (near: below 3). NaNs need nothing more: a NaN result of such a kernel
// comes out of a float32 product of 16-bit values (kOneRounding: never a NaN x
// passed through), so it is quiet and its low half is zero, and t
// keeps its high half.
//
// y = f(x) over the pairs of packets from x[from] while a pair fits before
// `end`; whether every result was rounded right.
template <bool kStream, typename K32>
EIGEN_ALWAYS_INLINE bool ForwardPairsUnflagged(const K32& k, const BFloat16* x,
                                               BFloat16* y, int64_t from,
                                               int64_t end) {
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  const __m256i half = _mm256_set1_epi32(0x8001);
  __m256i least = _mm256_set1_epi32(-1);  // its even 16-bit lanes
  for (int64_t i = from; i + 2 * W <= end; i += 2 * W) {
    const __m256i h =
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i));
    const P even = k.Forward(_mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
    const P odd = k.Forward(_mm256_castsi256_ps(_mm256_and_si256(h, high)));
    const __m256i t_even = _mm256_add_epi32(_mm256_castps_si256(even), half);
    const __m256i t_odd = _mm256_add_epi32(_mm256_castps_si256(odd), half);
    least = _mm256_min_epu16(least, _mm256_min_epu16(t_even, t_odd));
    const __m256i out =
        _mm256_blend_epi16(_mm256_srli_epi32(t_even, 16), t_odd, 0xAA);
    if constexpr (kStream) {
      _mm256_stream_si256(reinterpret_cast<__m256i*>(y + i), out);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), out);
    }
  }
  const __m256i lows = _mm256_or_si256(least, high);
  const __m256i near =
      _mm256_cmpeq_epi16(_mm256_min_epu16(lows, _mm256_set1_epi16(2)), lows);
  return _mm256_testz_si256(near, near);
}

// The same for float16: vcvtps2ph rounds u to nearest; the loop keeps the least
// of the low 13 bits of t = k + 0x1001 (near: below 3), shifted to the top of a
// 16-bit lane, with k = |u|, or below float16's normals k = |u| + 2^-14: there
// k's low 13 bits count units of 2^-37 within the subnormals' step, 2^-24 (of
// which 2^-14 is a multiple), and the exact value is within 0.75 units of |u|
// (1.5 of |u|'s ulps, 2^-38 or less), so k is within one unit of a midpoint
// (an odd multiple of 2^-25, plus 2^-14) wherever the exact value could lie
// across one. Subnormal results need no redo but near such a midpoint.
template <bool kStream, typename K32>
EIGEN_ALWAYS_INLINE bool ForwardPairsUnflagged(const K32& k, const Float16* x,
                                               Float16* y, int64_t from,
                                               int64_t end) {
  const __m256i half = _mm256_set1_epi32(0x1001);
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 normal = _mm256_set1_ps(0x1p-14f);
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256i least = _mm256_set1_epi32(-1);  // its even 16-bit lanes
  auto lows = [&](const P& v) {
    const __m256 a = _mm256_and_ps(v, magnitude);
    const __m256 lift =
        _mm256_and_ps(_mm256_cmp_ps(a, normal, _CMP_LT_OQ), normal);
    // a + lift, as an FMA: FP0/1 on Zen 3, beside the conversions on FP2/3
    const __m256i key = _mm256_castps_si256(_mm256_fmadd_ps(a, one, lift));
    return _mm256_slli_epi32(_mm256_add_epi32(key, half), 3);
  };
  for (int64_t i = from; i + 2 * W <= end; i += 2 * W) {
    const P v0 = k.Forward(Load(x + i));
    const P v1 = k.Forward(Load(x + i + W));
    Store<Float16, Narrow::kRound, kStream>(y + i, v0);
    Store<Float16, Narrow::kRound, kStream>(y + i + W, v1);
    least = _mm256_min_epu16(least, _mm256_min_epu16(lows(v0), lows(v1)));
  }
  const __m256i masked =
      _mm256_or_si256(least, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u)));
  const __m256i near = _mm256_cmpeq_epi16(
      _mm256_min_epu16(masked, _mm256_set1_epi16(2 << 3)), masked);
  return _mm256_testz_si256(near, near);
}
#else
using Flags = uint32_t;
inline uint32_t Lanes(Flags f) { return f; }
template <typename H, bool kSkip = false, bool kOneRounding = false>
inline Flags Suspect(const P& v, int* = nullptr) {
  alignas(64) float f[W];
  pm::pstore(f, v);
  Flags lanes = 0;
  for (int64_t i = 0; i < W; ++i) {
    uint32_t u;
    std::memcpy(&u, f + i, 4);
    uint32_t suspect;
    if constexpr (kOneRounding) {
      suspect = kBf16<H> ? half_bits::NearMidpointBf16(u)
                         : half_bits::NearMidpointF16(u);
    } else {
      suspect = kBf16<H> ? half_bits::SuspectBf16(u) : half_bits::SuspectF16(u);
    }
    lanes |= (suspect != 0 ? Flags{1} : Flags{0}) << i;
  }
  return lanes;
}
#endif

// Whether Forward runs a kernel's blocks through the deferred pass first
// (ForwardPairsUnflagged, above, where the ISA has one).
template <typename H, bool kOneRounding>
constexpr bool kDeferFlags =
#if defined(__AVX2__)
    kOneRounding;
#else
    false;
#endif
#if !defined(__AVX2__)
template <bool kStream, typename K32, typename H>
bool ForwardPairsUnflagged(const K32&, const H*, H*, int64_t,
                           int64_t);  // where kDeferFlags
#endif

// A float64 value rounded once to H: to float32 by rounding to odd (truncate,
// set the last bit when inexact), then to H to nearest even; exact for any H of
// at most 22 significant bits.
template <typename H>
inline H NarrowDouble(double d) {
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
  return H(f);
}

// Redoes suspect lanes in float64 (`eval64(a, dy, y, n)` runs the float64 loop
// on plain arrays), and remembers the last results by their inputs' bits:
// suspect inputs recur (a 16-bit tensor of a million elements holds a few
// thousand distinct values; in normal(0, 3) bfloat16 data one value, 5.9375,
// gives 638 of swish's 648 suspect results), and a remembered result costs a
// lookup instead of a float64 evaluation (~85 ns a call). Rare: on smooth data
// a packet holds a suspect result with a probability of about W·5/2^16
// (bfloat16) or W·5/2^13 (float16).
template <typename H, typename Eval64>
class Refiner {
 public:
  explicit Refiner(const Eval64& eval64) : eval64_(eval64) {}
  // Redoes the `lanes` (bit i: element i) of one packet: `a` and `dy` (null:
  // ones) are its inputs, `out` its outputs.
  [[gnu::noinline]] void operator()(const H* a, const H* dy, H* out,
                                    uint32_t lanes) {
    if (!filled_) {
      std::fill(key_, key_ + kSlots, uint64_t{0});
      filled_ = true;
    }
    double as[W], dys[W], ys[W];
    int at[W];
    uint32_t keys[W];
    int k = 0;
    for (; lanes != 0; lanes &= lanes - 1) {
      const int i = __builtin_ctz(lanes);
      const uint32_t key =
          a[i].bits | uint32_t{dy != nullptr ? dy[i].bits : H(1.0f).bits} << 16;
      const int slot = Slot(key);
      if (key_[slot] == (key | kFilled)) {
        out[i].bits = value_[slot];
        continue;
      }
      at[k] = i;
      keys[k] = key;
      as[k] = static_cast<float>(a[i]);
      dys[k] = dy != nullptr ? static_cast<float>(dy[i]) : 1.0;
      ++k;
    }
    if (k == 0) return;
    eval64_(as, dy != nullptr ? dys : nullptr, ys, k);
    for (int j = 0; j < k; ++j) {
      out[at[j]] = NarrowDouble<H>(ys[j]);
      const int slot = Slot(keys[j]);
      key_[slot] = keys[j] | kFilled;
      value_[slot] = out[at[j]].bits;
    }
  }

 private:
  static constexpr int kSlots = 256;
  static constexpr uint64_t kFilled = uint64_t{1} << 32;
  static int Slot(uint32_t key) { return (key * 0x9E3779B1u) >> 24; }
  const Eval64& eval64_;
  bool filled_ = false;
  uint64_t key_[kSlots];  // the inputs' bits | kFilled
  uint16_t value_[kSlots];
};
// The lanes of a packet's first `count` elements.
inline uint32_t FirstLanes(int64_t count) {
  return static_cast<uint32_t>((uint64_t{1} << count) - 1);
}

// Forward's pairs of packets from x[i], y[i] while a pair fits before `end`
// (kPairs), flags[p] and on for their packets, their OR into *any (kRefine);
// advances i and p. Where kDeferFlags, first without flags; the rare block
// that pass could not round is done again with them (the pairs loop where
// kPairs, else Forward's packets).
template <typename H, Narrow kMode, bool kRefine, bool kOneRounding,
          bool kStream, typename K32>
EIGEN_ALWAYS_INLINE void ForwardPairs(const K32& k, const H* x, H* y,
                                      int64_t end, int64_t& i, int& p,
                                      Flags* flags, Flags& any) {
  if constexpr (kRefine && kDeferFlags<H, kOneRounding>) {
    if (ForwardPairsUnflagged<kStream>(k, x, y, i, end)) {
      const int64_t pairs = (end - i) / (2 * W);
      std::fill(flags + p, flags + p + 2 * pairs, Flags{0});
      i += 2 * W * pairs;
      p += static_cast<int>(2 * pairs);
      return;
    }
  }
  if constexpr (kExactPairs && kBf16<H> && kMode == Narrow::kExact) {
    const int64_t from = i;
    ForwardPairsExact<kStream>(k, x, y, i, end);
    p += static_cast<int>((i - from) / W);
  } else if constexpr (kPairs<H, kMode>) {
    for (; i + 2 * W <= end; i += 2 * W, p += 2) {
      const P v0 = k.Forward(Load(x + i));
      const P v1 = k.Forward(Load(x + i + W));
      StorePair<H, kMode, kStream>(y + i, v0, v1);
      if constexpr (kRefine) {
        flags[p] = Suspect<H, false, kOneRounding>(v0);
        flags[p + 1] = Suspect<H, false, kOneRounding>(v1);
        any |= flags[p] | flags[p + 1];
      }
    }
  }
}

// y = f(x). kRefine: redo suspect lanes in float64 (not for exact kernels);
// kOneRounding: Suspect's.
// The flags of a block's packets are kept and acted on after the block, so the
// hot loop holds no call (which would make the compiler spill every vector
// register around it). kStream: y is written non-temporally, and must be
// aligned to kStreamAlign.
template <typename H, Narrow kMode, bool kRefine, bool kOneRounding,
          bool kStream, typename K32, typename Eval64>
void Forward(const K32& k, const H* x, H* y, int64_t n, const Eval64& eval64) {
  Refiner<H, Eval64> refine(eval64);
  TinyGate gate;
  Flags flags[64];
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    Flags any = 0;
    int64_t i = start;
    int p = 0;
    ForwardPairs<H, kMode, kRefine, kOneRounding, kStream>(k, x, y, end, i, p,
                                                           flags, any);
    auto packets = [&](auto skip) ACTD_INLINE_LAMBDA {
      for (; i + W <= end; i += W, ++p) {
        const P v = k.Forward(Load(x + i));
        Store<H, kMode, kStream>(y + i, v);
        if constexpr (kRefine) {
          flags[p] = Suspect<H, skip(), kOneRounding>(v, &gate.small_packets);
          any |= flags[p];
        }
      }
    };
    RunGated<H>(gate, packets);
    if (i < end) {
      H xb[W] = {}, yb[W];
      std::copy(x + i, x + end, xb);
      const P v = k.Forward(Load(xb));
      Store<H, kMode>(yb, v);
      const uint32_t tail =
          kRefine
              ? Lanes(Suspect<H, false, kOneRounding>(v)) & FirstLanes(end - i)
              : 0;
      if (tail != 0) {
        refine(xb, static_cast<const H*>(nullptr), yb, tail);
      }
      std::copy(yb, yb + (end - i), y + i);
    }
    if (kRefine && any != 0) {
      for (int64_t j = start, p = 0; j + W <= end; j += W, ++p) {
        if (flags[p] != 0) {
          refine(x + j, static_cast<const H*>(nullptr), y + j, Lanes(flags[p]));
        }
      }
    }
    gate.NextBlock();
  }
}

// dx = step(a, dy, term) (a = x, or y for the from-output form), dy == nullptr
// meaning ones; with kSumTerm returns the float64 sum of the terms, added as
// the float32 loops add them (float32 packets over blocks of 64 packets, then
// float64), so the same terms give the same sum.
template <typename H, Narrow kMode, bool kRefine, bool kOneRounding,
          bool kSumTerm, bool kSelectNaN, bool kStream, typename Step,
          typename Eval64>
double Backward(const H* a, const H* dy, H* dx, int64_t n, const Step& step,
                const Eval64& eval64) {
  const P ones = pm::One<P>();
  Refiner<H, Eval64> refine(eval64);
  TinyGate gate;
  double total = 0;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    P acc = pm::Zero<P>(), term = pm::Zero<P>();
    Flags flags[64];
    Flags any = 0;
    // One packet at ap/dyp (dyp null: ones) into dxp; its suspect lanes.
    auto one = [&](const H* ap, const H* dyp, H* dxp, auto skip,
                   auto stream) ACTD_INLINE_LAMBDA {
      const P av = Load(ap);
      const P dyv = dyp != nullptr ? Load(dyp) : ones;
      P dxv = step(av, dyv, term);
      if constexpr (kSelectNaN) dxv = pm::KeepNaN(av, dxv);
      Store<H, kMode, stream()>(dxp, dxv);
      if constexpr (kSumTerm) acc = pm::padd(acc, term);
      return kRefine
                 ? Suspect<H, skip(), kOneRounding>(dxv, &gate.small_packets)
                 : Flags{0};
    };
    int64_t i = start;
    auto packets = [&](auto skip) ACTD_INLINE_LAMBDA {
      for (int p = 0; i + W <= end; i += W, ++p) {
        flags[p] = one(a + i, dy != nullptr ? dy + i : nullptr, dx + i, skip,
                       std::bool_constant<kStream>{});
        any |= flags[p];
      }
    };
    RunGated<H>(gate, packets);
    if (kRefine && any != 0) {
      for (int64_t j = start, p = 0; j + W <= end; j += W, ++p) {
        if (flags[p] != 0) {
          refine(a + j, dy != nullptr ? dy + j : nullptr, dx + j,
                 Lanes(flags[p]));
        }
      }
    }
    if (i < end) {
      // Padded lanes: a = 0 and dy = 0, so their terms add nothing.
      H ab[W] = {}, dyb[W] = {}, dxb[W];
      std::copy(a + i, a + end, ab);
      if (dy != nullptr) {
        std::copy(dy + i, dy + end, dyb);
      } else {
        std::fill(dyb, dyb + (end - i), H(1.0f));
      }
      const uint32_t tail =
          Lanes(one(ab, dyb, dxb, std::false_type{}, std::false_type{})) &
          FirstLanes(end - i);
      if (kRefine && tail != 0) {
        refine(ab, dy != nullptr ? dyb : static_cast<const H*>(nullptr), dxb,
               tail);
      }
      std::copy(dxb, dxb + (end - i), dx + i);
    }
    if constexpr (kSumTerm) {
      alignas(64) float lanes[W];
      pm::pstore(lanes, acc);
      for (float v : lanes) total += v;
    }
    gate.NextBlock();
  }
  return total;
}

// ---- The ops of the kernel table (kernel_export.h fills its bf16 / f16
// slots with Ops16). ----

// Kernels whose results are exact in any type (kExactResults: identity, relu,
// relu6): nothing to refine, and narrowed by keeping the high half (not with
// vcvtneps2bf16, which flushes subnormals).
template <template <typename> class K>
constexpr bool kExactKernel = requires {
  K<float>::kExactResults;
};
// Kernels whose float32 results, on 16-bit inputs, are one rounding of values
// held exactly (kRoundsOnce: hardsigmoid's (x + 3)/6 and dy/6), so that
// rounding them again to 16 bits gives the correctly rounded value (a second
// rounding after +, -, x, / is innocuous when float32's 24 bits are at least
// twice the type's precision + 2: 8 and 11 bits): nothing to refine.
template <template <typename> class K>
constexpr bool kRoundsOnce = requires {
  K<float>::kRoundsOnce;
};
// Whether K's 16-bit results are tested and redone in float64 where suspect.
template <template <typename> class K>
constexpr bool kRefined = !kExactKernel<K> && !kRoundsOnce<K>;
// Whether K is kOneRounding (Suspect).
template <template <typename> class K>
constexpr bool kOneRoundingKernel = requires {
  K<float>::kOneRounding;
};
// Only refined kernels narrow with vcvtneps2bf16 (which flushes subnormal
// results; Refine redoes those).
template <template <typename> class K, bool kInsn>
constexpr Narrow kNarrow = kExactKernel<K>       ? Narrow::kExact
                           : kInsn&& kRefined<K> ? Narrow::kInsn
                                                 : Narrow::kRound;

// Whether K's Backward turns a NaN x into a NaN dx by itself.
template <typename K>
constexpr bool BackwardKeepsNaN() {
  if constexpr (requires { K::kBackwardKeepsNaN; }) {
    return K::kBackwardKeepsNaN;
  } else {
    return false;
  }
}

template <typename H, bool kInsn, template <typename> class K>
void Forward16(const KernelArgs& a, const H* x, H* y, int64_t n) {
  const K<float> k(a);
  const K<double> k64(a);
  auto eval64 = [&](const double* xs, const double*, double* ys, int64_t m) {
    loops::Forward(k64, xs, ys, m, false);
  };
  loops::MaybeStreamed<kStreamAlign>(
      y, n, a.stream, [&](int64_t from, int64_t to, auto streamed) {
        Forward<H, kNarrow<K, kInsn>, kRefined<K>, kOneRoundingKernel<K>,
                streamed()>(k, x + from, y + from, to - from, eval64);
      });
}

template <typename H, bool kInsn, template <typename> class K, bool kFromY>
double Backward16(const KernelArgs& a, const H* x, const H* dy, H* dx,
                  int64_t n, bool sum) {
  const K<float> k(a);
  const K<double> k64(a);
  auto step_of = [](const auto& kernel) {
    return [&kernel](const auto& v, const auto& g, auto& term) {
      if constexpr (kFromY) {
        return kernel.BackwardFromOutput(v, g, term);
      } else {
        return kernel.Backward(v, g, term);
      }
    };
  };
  const auto step = step_of(k);
  const auto step64 = step_of(k64);
  constexpr bool kSelectNaN = kFromY || !BackwardKeepsNaN<K<float>>();
  auto eval64 = [&](const double* as, const double* dys, double* dxs,
                    int64_t m) {
    loops::Backward<false, kSelectNaN>(as, dys, dxs, m, false, step64);
  };
  constexpr bool kRefine = kRefined<K>;
  constexpr bool kOne = kOneRoundingKernel<K>;
  constexpr Narrow kMode = kNarrow<K, kInsn>;
  // As the float32 loops: a summing backward is not streamed, so that its
  // sum's order never depends on dx's alignment.
  if (sum) {
    return Backward<H, kMode, kRefine, kOne, true, kSelectNaN, false>(
        x, dy, dx, n, step, eval64);
  }
  loops::MaybeStreamed<kStreamAlign>(
      dx, n, a.stream, [&](int64_t from, int64_t to, auto streamed) {
        Backward<H, kMode, kRefine, kOne, false, kSelectNaN, streamed()>(
            x + from, dy != nullptr ? dy + from : nullptr, dx + from, to - from,
            step, eval64);
      });
  return 0;
}

template <typename H, bool kInsn, template <typename> class K>
ElementwiseOps<H> Ops16For() {
  ElementwiseOps<H> ops;
  ops.forward = &Forward16<H, kInsn, K>;
  ops.backward = &Backward16<H, kInsn, K, false>;
  if constexpr (K<float>::kFromOutput) {
    ops.backward_from_output = &Backward16<H, kInsn, K, true>;
  }
  return ops;
}

// Whether this build may narrow bfloat16 with vcvtneps2bf16 on this CPU.
inline bool UseBf16Instruction() {
#if defined(__AVX512BF16__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

// Kernel K's ops on 16-bit storage H, for this build and CPU.
template <typename H, template <typename> class K>
ElementwiseOps<H> Ops16() {
  return UseBf16Instruction() ? Ops16For<H, true, K>()
                              : Ops16For<H, false, K>();
}

}  // namespace half_loops
}  // namespace ACTD_ISA
}  // namespace actd

#endif  // ACTD_SERVER_CORE_HALF_LOOPS_H_
