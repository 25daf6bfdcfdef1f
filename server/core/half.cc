// The array conversions of half.h, one set per instruction set, and the choice
// among them. The vector sets are compiled with target attributes, so this
// file needs no -m flags and the program stays x86-64 baseline; a set runs
// only when cpuid says the CPU has its instructions.
#include "server/core/half.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 warns about its own AVX-512 intrinsics headers under -O2
// (uninitialized __Y), as the kernel builds do (CMakeLists.txt).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define ACTD_HALF_X86 1
#endif

namespace actd {

bool CpuHasF16c() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
#else
  return false;
#endif
}

}  // namespace actd

namespace actd {
namespace {

using half_bits::Bf16ToFloat;
using half_bits::F16ToFloat;
using half_bits::FloatToBf16;
using half_bits::FloatToF16;

// Portable: one element at a time, bit arithmetic only.
void WidenBf16Portable(const uint16_t* from, float* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = Bf16ToFloat(from[i]);
}
void NarrowBf16Portable(const float* from, uint16_t* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = FloatToBf16(from[i]);
}
void WidenF16Portable(const uint16_t* from, float* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = F16ToFloat(from[i]);
}
void NarrowF16Portable(const float* from, uint16_t* to, int64_t n) {
  for (int64_t i = 0; i < n; ++i) to[i] = FloatToF16(from[i]);
}

#ifdef ACTD_HALF_X86

// ---- AVX2 + F16C: 8 lanes. ----
#define ACTD_AVX2 __attribute__((target("avx2,fma,f16c")))

ACTD_AVX2 void WidenBf16Avx2(const uint16_t* from, float* to, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(to + i),
                        _mm256_slli_epi32(h, 16));
  }
  WidenBf16Portable(from + i, to + i, n - i);
}

// The integer rounding of FloatToBf16, 8 lanes at once; NaN lanes take the
// truncated bits with the quiet bit set.
ACTD_AVX2 __m128i NarrowBf16Lanes(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb =
      _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb),
      16);
  const __m256i quiet =
      _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
  // Pack the low 16 bits of each 32-bit lane (values are < 2^16: no
  // saturation with the unsigned pack).
  const __m256i packed = _mm256_packus_epi32(r, r);
  return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

ACTD_AVX2 void NarrowBf16Avx2(const float* from, uint16_t* to, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i),
                     NarrowBf16Lanes(_mm256_loadu_ps(from + i)));
  }
  NarrowBf16Portable(from + i, to + i, n - i);
}

ACTD_AVX2 void WidenF16Avx2(const uint16_t* from, float* to, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(to + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                 reinterpret_cast<const __m128i*>(from + i))));
  }
  WidenF16Portable(from + i, to + i, n - i);
}

// vcvtps2ph with an explicit round-to-nearest-even immediate (not MXCSR's
// mode): the same bits as FloatToF16, subnormals included (F16C never flushes
// them).
ACTD_AVX2 void NarrowF16Avx2(const float* from, uint16_t* to, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(
        reinterpret_cast<__m128i*>(to + i),
        _mm256_cvtps_ph(_mm256_loadu_ps(from + i),
                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  NarrowF16Portable(from + i, to + i, n - i);
}

// ---- AVX-512: 16 lanes. ----
#define ACTD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))

ACTD_AVX512 void WidenBf16Avx512(const uint16_t* from, float* to, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i h = _mm512_cvtepu16_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from + i)));
    _mm512_storeu_si512(to + i, _mm512_slli_epi32(h, 16));
  }
  WidenBf16Portable(from + i, to + i, n - i);
}

ACTD_AVX512 __m512i NarrowBf16Lanes512(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __m512i lsb =
      _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb),
      16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  return _mm512_mask_or_epi32(rounded, nan, _mm512_srli_epi32(u, 16),
                              _mm512_set1_epi32(0x40));
}

ACTD_AVX512 void NarrowBf16Avx512(const float* from, uint16_t* to, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(to + i),
        _mm512_cvtepi32_epi16(NarrowBf16Lanes512(_mm512_loadu_ps(from + i))));
  }
  NarrowBf16Portable(from + i, to + i, n - i);
}

ACTD_AVX512 void WidenF16Avx512(const uint16_t* from, float* to, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(to + i, _mm512_cvtph_ps(_mm256_loadu_si256(
                                 reinterpret_cast<const __m256i*>(from + i))));
  }
  WidenF16Portable(from + i, to + i, n - i);
}

ACTD_AVX512 void NarrowF16Avx512(const float* from, uint16_t* to, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(
        reinterpret_cast<__m256i*>(to + i),
        _mm512_cvtps_ph(_mm512_loadu_ps(from + i),
                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  NarrowF16Portable(from + i, to + i, n - i);
}

// ---- AVX-512 BF16: vcvtne2ps2bf16 narrows 32 floats in one instruction. ----
#define ACTD_AVX512BF16 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,f16c")))

// vcvtne(2)ps2bf16 rounds to nearest even and quiets NaNs exactly like
// FloatToBf16, but treats float32 subnormal inputs as zero (Intel SDM,
// "denormal inputs are treated as zero"), where bfloat16 has subnormals of its
// own. Lanes whose exponent is zero and mantissa is not are therefore redone
// with the integer rounding; a branch on the mask keeps normal data on the
// fast path.
ACTD_AVX512BF16 __mmask16 SubnormalLanes(__m512 v) {
  const __m512i u = _mm512_castps_si512(v);
  const __mmask16 zero_exp =
      _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7F800000));
  return _mm512_mask_test_epi32_mask(zero_exp, u,
                                     _mm512_set1_epi32(0x007FFFFF));
}

ACTD_AVX512BF16 void NarrowBf16Avx512Bf16(const float* from, uint16_t* to,
                                          int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 lo = _mm512_loadu_ps(from + i);
    const __m512 hi = _mm512_loadu_ps(from + i + 16);
    // Elements 0..15 come from lo, 16..31 from hi.
    __m512i r = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
    const __mmask16 lo_sub = SubnormalLanes(lo), hi_sub = SubnormalLanes(hi);
    if (__builtin_expect((lo_sub | hi_sub) != 0, 0)) {
      const __m512i fixed = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm512_cvtepi32_epi16(NarrowBf16Lanes512(lo))),
          _mm512_cvtepi32_epi16(NarrowBf16Lanes512(hi)), 1);
      r = _mm512_mask_mov_epi16(
          r, static_cast<__mmask32>(lo_sub) | (__mmask32{hi_sub} << 16), fixed);
    }
    _mm512_storeu_si512(to + i, r);
  }
  NarrowBf16Avx512(from + i, to + i, n - i);
}

#endif  // ACTD_HALF_X86

struct Candidate {
  HalfConversions set;
  bool (*supported)();
};

const Candidate kCandidates[] = {
    {{"baseline", WidenBf16Portable, NarrowBf16Portable, WidenF16Portable,
      NarrowF16Portable},
     [] { return true; }},
#ifdef ACTD_HALF_X86
    {{"avx2", WidenBf16Avx2, NarrowBf16Avx2, WidenF16Avx2, NarrowF16Avx2},
     [] {
       __builtin_cpu_init();
       return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              CpuHasF16c();
     }},
    {{"avx512", WidenBf16Avx512, NarrowBf16Avx512, WidenF16Avx512,
      NarrowF16Avx512},
     [] {
       __builtin_cpu_init();
       return __builtin_cpu_supports("avx512f") &&
              __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512vl") && CpuHasF16c();
     }},
    {{"avx512_bf16", WidenBf16Avx512, NarrowBf16Avx512Bf16, WidenF16Avx512,
      NarrowF16Avx512},
     [] {
       __builtin_cpu_init();
       return __builtin_cpu_supports("avx512f") &&
              __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512vl") &&
              __builtin_cpu_supports("avx512bf16") && CpuHasF16c();
     }},
#endif
};

const HalfConversions* Widest(absl::string_view family) {
  const HalfConversions* best = nullptr;
  for (const Candidate& c : kCandidates) {
    const absl::string_view name = c.set.isa;
    const bool in_family =
        family.empty() || name == family ||
        (name.size() > family.size() &&
         name.substr(0, family.size()) == family && name[family.size()] == '_');
    if (in_family && c.supported()) best = &c.set;
  }
  return best;
}

std::atomic<const HalfConversions*>& Active() {
  static std::atomic<const HalfConversions*> active{Widest("")};
  return active;
}

}  // namespace

const HalfConversions& Conversions() {
  return *Active().load(std::memory_order_relaxed);
}

std::vector<std::string> SupportedConversionIsas() {
  std::vector<std::string> names;
  for (const Candidate& c : kCandidates) {
    if (c.supported()) names.push_back(c.set.isa);
  }
  return names;
}

const HalfConversions* FindConversions(absl::string_view isa) {
  for (const Candidate& c : kCandidates) {
    if (c.set.isa == isa && c.supported()) return &c.set;
  }
  return nullptr;
}

absl::Status SelectConversions(absl::string_view isa) {
  const HalfConversions* set = isa == "auto" ? Widest("") : Widest(isa);
  if (set == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "isa: \"", isa,
        "\" has no 16-bit conversions on this CPU and build (available: auto, ",
        absl::StrJoin(SupportedConversionIsas(), ", "), ")"));
  }
  Active() = set;
  return absl::OkStatus();
}

}  // namespace actd
