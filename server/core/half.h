// bfloat16 and float16: the two 16-bit storage types, and their conversions to
// and from float32.
//
// The core computes 16-bit tensors in float32: elements are widened on load,
// go through the float32 kernel, and are rounded once on store. Widening is
// exact. Narrowing rounds to nearest, ties to even, on every instruction set:
// a NaN stays NaN and becomes quiet (the sign and the top payload bits are
// kept, the quiet bit is set), a finite value beyond the type's largest rounds
// to ±inf, and values below the smallest normal produce the type's subnormals
// (gradual underflow, never flushed to zero).
//
// The array conversions come in one build per instruction set: portable bit
// arithmetic (x86-64 baseline, and every other CPU), AVX2 with F16C (vcvtph2ps
// / vcvtps2ph), AVX-512 (the same 16 lanes wide; bfloat16 by integer rounding)
// and AVX-512 BF16 (vcvtneps2bf16 for bfloat16). They give the same bits for
// every input; the tests compare them over all 2^16 patterns (widening) and
// over float32 (narrowing). The set is picked at startup, the widest the CPU
// runs, or follows SelectIsa.
#ifndef ACTD_SERVER_CORE_HALF_H_
#define ACTD_SERVER_CORE_HALF_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace actd {

// Whether the CPU has F16C (cpuid leaf 1, ecx bit 29). Asked through cpuid
// because clang's __builtin_cpu_supports does not know "f16c".
bool CpuHasF16c();

}  // namespace actd

namespace actd {

namespace half_bits {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// bfloat16 is the top half of a float32: widening is a shift.
inline float Bf16ToFloat(uint16_t h) { return BitsFloat(uint32_t{h} << 16); }

// Round to nearest even on the bits: adding 0x7FFF plus the lowest kept bit
// carries into the kept half exactly when the dropped half is above one half,
// or exactly one half with an odd kept half. A carry out of the mantissa bumps
// the exponent, so the largest finite values round to inf as they should.
// NaN: the top half with the quiet bit set (the carry could turn a NaN into
// inf).
inline uint16_t FloatToBf16(float f) {
  const uint32_t u = FloatBits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Exact.
// A signalling NaN comes back quiet, as vcvtph2ps returns it.
inline float F16ToFloat(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) {  // inf or NaN
    return BitsFloat(sign | 0x7F800000u | (mant << 13) |
                     (mant != 0 ? 0x00400000u : 0u));
  }
  if (exp != 0) return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return BitsFloat(sign);
  // Subnormal: mant·2^-24, normalized.
  int e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return BitsFloat(sign | (static_cast<uint32_t>(e) << 23) |
                   ((mant & 0x3FFu) << 13));
}

// float32 to binary16, round to nearest even, all in integers so that no
// floating-point mode (flush-to-zero, rounding) can change it.
inline uint16_t FloatToF16(float f) {
  const uint32_t u = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) {  // NaN: top payload bits, quiet
    return sign | 0x7E00u | static_cast<uint16_t>((a >> 13) & 0x3FFu);
  }
  // 65520 = 65504 + half an ulp: from there on (ties to even go up, as 65504's
  // mantissa is odd) the result is inf.
  if (a >= 0x477FF000u) return sign | 0x7C00u;
  if (a >= 0x38800000u) {  // normal in binary16: rebias, round 13 bits away
    const uint32_t r = a - 0x38000000u;
    return sign | static_cast<uint16_t>((r + 0x0FFFu + ((r >> 13) & 1u)) >> 13);
  }
  // Subnormal in binary16: the value in units of 2^-24 is m·2^(e-126), so the
  // mantissa with its hidden bit shifts right by 126 - e (14 or more here).
  const uint32_t e = a >> 23;
  const uint32_t shift = 126 - e;
  if (e == 0 || shift > 24) return sign;  // below 2^-25: rounds to ±0
  const uint32_t m = (a & 0x7FFFFFu) | 0x800000u;
  const uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  const uint32_t up = rem > half || (rem == half && (q & 1u)) ? 1u : 0u;
  return sign | static_cast<uint16_t>(q + up);
}

// Whether a float32 result `u` (bits) is one whose rounding to bfloat16 /
// float16 the core does not leave to a float32 kernel (half_loops.h recomputes
// it in float64 and rounds once from there):
// - within 2 float32 ulps of a rounding boundary of the type (a midpoint
//   between two neighbours), where the float32 kernel's own error may decide
//   the side: the low 16 (bfloat16) or 13 (float16) bits within 2 of the
//   midpoint pattern;
// - below the type's smallest normal and nonzero: float32 subnormals for
//   bfloat16 (which vcvtneps2bf16 would flush); in float16's subnormal range
//   (fixed spacing 2^-24) a result within 2^-14 of its own magnitude of a
//   midpoint. That is the SPEC's float32 bound (1e-5 relative backward) with
//   the κ/8 factor of the tails where such results occur (GELU's left tail
//   at x in [-5.9, -4] has κ ≈ x² <= 35), and flags a few per cent of
//   subnormal results rather than all of them (which made float16 GELU 400x
//   slower than float32 on data with many tiny results).
// A NaN may be flagged too (its payload bits are arbitrary): recomputing it
// gives a NaN again. Branch-free, the same few integer operations per lane on
// every instruction set.
// Whether u's low bits (mask 0xFFFF: bfloat16, 0x1FFF: float16) are within
// `ulps` of the midpoint pattern (0x8000, 0x1000).
inline uint32_t NearMidpoint(uint32_t u, uint32_t mask, uint32_t ulps) {
  return static_cast<uint32_t>(((u + (mask + 1) / 2 + ulps) & mask) <=
                               2 * ulps);
}
inline uint32_t SuspectBf16(uint32_t u) {
  return static_cast<uint32_t>(((u & 0x7FFFFFFFu) - 1u) < 0x007FFFFFu) |
         NearMidpoint(u, 0xFFFFu, 2);
}
// |v| below 2^-14 and within 2^-14·|v| of a float16 subnormal midpoint
// (t + 1/2 units of 2^-24). Every step is exact: the scaling by a power of
// two, the floor, the subtractions (Sterbenz) and the threshold.
inline uint32_t SuspectF16Subnormal(uint32_t u) {
  float a;
  const uint32_t abs_bits = u & 0x7FFFFFFFu;
  std::memcpy(&a, &abs_bits, 4);
  if (!(a < 0x1p-14f)) return 0;
  const float t = a * 0x1p24f;
  const float f = t - std::floor(t);
  return static_cast<uint32_t>(std::fabs(f - 0.5f) <= t * 0x1p-14f);
}
inline uint32_t SuspectF16(uint32_t u) {
  return SuspectF16Subnormal(u) | NearMidpoint(u, 0x1FFFu, 2);
}

// The same for a kOneRounding kernel's float32 result p: an input, or the
// float32 product of an input and a parameter rounded to float32 (a·x with
// a = alpha rounded once). The exact value v = alpha·x is within half an ulp
// of p (the product's rounding) plus under one ulp (alpha's: 2^-24 relative),
// so where p is two ulps or more from every midpoint, v is on p's side of
// each and rounds as p does. Only p within one ulp of a midpoint is flagged:
// the low 16 (bfloat16, whose subnormals share float32's exponent, the
// product's error there staying under an ulp too) or 13 (float16) bits within
// 1 of the midpoint pattern, and SuspectF16Subnormal below float16's normals.
inline uint32_t NearMidpointBf16(uint32_t u) {
  return NearMidpoint(u, 0xFFFFu, 1);
}
inline uint32_t NearMidpointF16(uint32_t u) {
  return SuspectF16Subnormal(u) | NearMidpoint(u, 0x1FFFu, 1);
}

}  // namespace half_bits

// Storage types: 2 bytes each, convertible to and from float (rounding as
// above). Arithmetic is done after widening, never on these.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  explicit BFloat16(float f) : bits(half_bits::FloatToBf16(f)) {}
  explicit BFloat16(double d) : BFloat16(static_cast<float>(d)) {}
  explicit operator float() const { return half_bits::Bf16ToFloat(bits); }
  explicit operator double() const { return half_bits::Bf16ToFloat(bits); }
};
struct Float16 {
  uint16_t bits = 0;
  Float16() = default;
  explicit Float16(float f) : bits(half_bits::FloatToF16(f)) {}
  explicit Float16(double d) : Float16(static_cast<float>(d)) {}
  explicit operator float() const { return half_bits::F16ToFloat(bits); }
  explicit operator double() const { return half_bits::F16ToFloat(bits); }
};
static_assert(sizeof(BFloat16) == 2 && sizeof(Float16) == 2);

// Note on BFloat16(double): rounding twice (double to float to bfloat16) can
// differ from rounding once; the core only narrows float32 results, so it is
// used for parameters and tests' inputs, never on kernel results.

// One instruction set's array conversions. `n` elements; the arrays may not
// overlap.
struct HalfConversions {
  const char* isa;  // "baseline", "avx2", "avx512", "avx512_bf16"
  void (*widen_bf16)(const uint16_t* from, float* to, int64_t n);
  void (*narrow_bf16)(const float* from, uint16_t* to, int64_t n);
  void (*widen_f16)(const uint16_t* from, float* to, int64_t n);
  void (*narrow_f16)(const float* from, uint16_t* to, int64_t n);
};

// The conversions in use. Thread-safe.
const HalfConversions& Conversions();
// The conversion sets this build has and this CPU runs, narrowest first.
std::vector<std::string> SupportedConversionIsas();
// Forces a conversion set by name, or "auto" for the widest; INVALID_ARGUMENT
// naming the value when unavailable. A kernel ISA name ("avx512") selects the
// widest conversion set of that family. Call before serving.
absl::Status SelectConversions(absl::string_view isa);
// A conversion set by name (for tests), or nullptr when unavailable.
const HalfConversions* FindConversions(absl::string_view isa);

}  // namespace actd

#endif  // ACTD_SERVER_CORE_HALF_H_
