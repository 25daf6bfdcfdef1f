// bfloat16 and float16: the conversions of half.h on every conversion set the
// CPU runs, bit for bit against the portable ones and against independent
// references; and every element-wise activation over all 65,536 bit patterns
// of each 16-bit type, forward and backward (dy = 1), on every instruction
// set, against the long double reference rounded to the type.
//
// The contract (docs/SPEC.md): every result within 1 ulp of the type (one of
// the two 16-bit neighbours of the exact value), correctly rounded (nearest
// even) for at least 99.9% of the inputs per activation, type and direction;
// NaN in gives a quiet NaN out; infinities give the spec's limits. The counts
// are recorded as test properties ("<type>_<label>_<direction>_<isa>_correct"
// and "..._faithful_only").
#include "server/core/half.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/activation.h"
#include "server/core/kernel_table.h"
#include "tests/core/reference.h"

namespace actd::testing {
namespace {

using half_bits::Bf16ToFloat;
using half_bits::BitsFloat;
using half_bits::F16ToFloat;
using half_bits::FloatBits;
using half_bits::FloatToBf16;
using half_bits::FloatToF16;

constexpr int kPatterns = 1 << 16;

float Widen(DType t, uint16_t h) {
  return t == DType::kBFloat16 ? Bf16ToFloat(h) : F16ToFloat(h);
}
const char* Name(DType t) { return t == DType::kBFloat16 ? "bf16" : "f16"; }

// ---- Conversions. ----

// Independent bfloat16 rounding: the two truncation neighbours compared in
// double, ties to the even one.
uint16_t Bf16Reference(float f) {
  const uint32_t u = FloatBits(f);
  if (std::isnan(f)) return static_cast<uint16_t>((u >> 16) | 0x40);
  const uint16_t lo = static_cast<uint16_t>(u >> 16);
  const uint16_t hi = lo + 1;  // next magnitude (may be inf)
  const double dl = std::fabs(double{f} - Bf16ToFloat(lo));
  // Past the largest finite value the next one is 2^128 (IEEE 754's overflow
  // threshold), which rounds to inf.
  const double next = (hi & 0x7F80) == 0x7F80
                          ? std::ldexp(std::copysign(1.0, f), 128)
                          : double{Bf16ToFloat(hi)};
  const double dh = std::fabs(next - f);
  if (dl < dh) return lo;
  if (dh < dl) return hi;
  return (lo & 1) ? hi : lo;
}

// The compiler's own float -> _Float16 conversion (libgcc's soft-float or
// F16C), correctly rounded by IEEE 754; NaNs are compared separately.
uint16_t F16Reference(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

TEST(HalfConversions, ScalarNarrowingMatchesIndependentReferences) {
  std::mt19937 rng(13);
  int64_t checked = 0;
  auto check = [&](uint32_t u) {
    const float f = BitsFloat(u);
    ++checked;
    ASSERT_EQ(FloatToBf16(f), Bf16Reference(f)) << std::hex << u;
    if (!std::isnan(f)) {
      ASSERT_EQ(FloatToF16(f), F16Reference(f)) << std::hex << u;
    } else {
      const uint16_t h = FloatToF16(f);
      ASSERT_EQ(h & 0x7E00u, 0x7E00u) << std::hex << u;  // quiet NaN
      ASSERT_EQ(h & 0x8000u, (u >> 16) & 0x8000u) << std::hex << u;
    }
  };
  // Every float32 with a short random low part, plus the exact midpoints and
  // their neighbours of every 16-bit value (the rounding boundaries).
  for (uint32_t hi = 0; hi < kPatterns; ++hi) {
    const uint32_t base = hi << 16;
    for (uint32_t low : {0u, 1u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu,
                         static_cast<uint32_t>(rng()) & 0xFFFFu}) {
      check(base | low);
    }
    // float16 boundaries: 13 dropped bits for normals.
    for (uint32_t low13 : {0x0FFFu, 0x1000u, 0x1001u}) {
      check((base & ~0x1FFFu) | low13);
    }
  }
  for (int i = 0; i < (1 << 22); ++i) check(static_cast<uint32_t>(rng()));
  ::testing::Test::RecordProperty("narrowing_values_checked", checked);
}

// Every 2^32 float32 pattern through every set, when ACTD_HALF_EXHAUSTIVE=1
// (about a minute); otherwise 2^24 random patterns and the boundaries.
std::vector<uint32_t> NarrowingInputs() {
  std::vector<uint32_t> v;
  std::mt19937 rng(16);
  for (uint32_t hi = 0; hi < kPatterns; ++hi) {
    for (uint32_t low : {0u, 1u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu, 0x0FFFu,
                         0x1000u, 0x1001u, 0x0001u}) {
      v.push_back((hi << 16) | low);
    }
  }
  for (int i = 0; i < (1 << 24); ++i) v.push_back(static_cast<uint32_t>(rng()));
  return v;
}

TEST(HalfConversions, EverySetMatchesThePortableOne) {
  const HalfConversions* portable = FindConversions("baseline");
  ASSERT_NE(portable, nullptr);
  std::vector<uint16_t> patterns(kPatterns);
  for (int i = 0; i < kPatterns; ++i) patterns[i] = static_cast<uint16_t>(i);
  const bool full = std::getenv("ACTD_HALF_EXHAUSTIVE") != nullptr;
  std::vector<uint32_t> inputs;
  if (!full) inputs = NarrowingInputs();
  for (const std::string& isa : SupportedConversionIsas()) {
    SCOPED_TRACE(isa);
    const HalfConversions* set = FindConversions(isa);
    ASSERT_NE(set, nullptr);
    // Widening: all 2^16 patterns, offset by one element to exercise the
    // unaligned and tail paths too.
    for (int offset : {0, 1}) {
      const int n = kPatterns - offset;
      std::vector<float> want(n), got(n);
      for (auto [w, p] : {std::pair{set->widen_bf16, portable->widen_bf16},
                          std::pair{set->widen_f16, portable->widen_f16}}) {
        p(patterns.data() + offset, want.data(), n);
        w(patterns.data() + offset, got.data(), n);
        ASSERT_EQ(0, std::memcmp(want.data(), got.data(), n * 4));
      }
    }
    // Narrowing, in slices of 2^20.
    const uint64_t total = full ? (uint64_t{1} << 32) : inputs.size();
    constexpr uint64_t kSlice = 1 << 20;
    std::vector<float> in(kSlice);
    std::vector<uint16_t> want(kSlice), got(kSlice);
    for (uint64_t start = 0; start < total; start += kSlice) {
      const int64_t n = static_cast<int64_t>(std::min(kSlice, total - start));
      for (int64_t i = 0; i < n; ++i) {
        in[i] = BitsFloat(full ? static_cast<uint32_t>(start + i)
                               : inputs[start + i]);
      }
      for (auto [w, p] : {std::pair{set->narrow_bf16, portable->narrow_bf16},
                          std::pair{set->narrow_f16, portable->narrow_f16}}) {
        p(in.data(), want.data(), n);
        w(in.data(), got.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(want[i], got[i])
              << std::hex << "input 0x" << FloatBits(in[i]);
        }
      }
    }
    ::testing::Test::RecordProperty("narrowing_checked_" + isa,
                                    std::to_string(total));
  }
}

TEST(HalfConversions, WideningIsExactAndRoundTrips) {
  for (DType t : {DType::kBFloat16, DType::kFloat16}) {
    for (int i = 0; i < kPatterns; ++i) {
      const uint16_t h = static_cast<uint16_t>(i);
      const float f = Widen(t, h);
      const uint16_t back =
          t == DType::kBFloat16 ? FloatToBf16(f) : FloatToF16(f);
      if (std::isnan(f)) {
        // Quiet on the way back, sign kept.
        const uint16_t quiet = t == DType::kBFloat16 ? 0x0040 : 0x0200;
        EXPECT_EQ(back, h | quiet) << Name(t) << " " << i;
      } else {
        EXPECT_EQ(back, h) << Name(t) << " " << i;
      }
    }
  }
  // float16 spot values: subnormals, the largest finite, infinity.
  EXPECT_EQ(F16ToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(F16ToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(F16ToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(FloatToF16(65519.996f), 0x7BFF);
  EXPECT_EQ(FloatToF16(65520.0f), 0x7C00);
  EXPECT_EQ(FloatToF16(std::ldexp(1.0f, -25)), 0x0000);  // tie to even (0)
  EXPECT_EQ(FloatToF16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(FloatToBf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(FloatToBf16(BitsFloat(0x00018000)), 0x0002);  // subnormal, tie up
}

// ---- Activations, all 65,536 patterns. ----

// The two adjacent 16-bit values around the exact value v (lo <= v <= hi;
// equal when v is representable), and the correctly rounded one.
struct Bracket {
  uint16_t lo, hi, nearest;
};

// Next 16-bit value towards +inf from a finite non-NaN h.
uint16_t Up(uint16_t h) {
  if (h == 0x8000) return 0x0001;
  return (h & 0x8000) ? h - 1 : h + 1;
}

Bracket BracketOf(DType t, long double v) {
  // A first guess from float32 (within a float32 ulp), then walk.
  const float f = static_cast<float>(v);
  uint16_t h = t == DType::kBFloat16 ? FloatToBf16(f) : FloatToF16(f);
  const uint16_t inf = t == DType::kBFloat16 ? 0x7F80 : 0x7C00;
  auto val = [&](uint16_t b) -> long double { return Widen(t, b); };
  auto down = [&](uint16_t b) -> uint16_t {
    if (b == 0x0000) return 0x8001;
    return (b & 0x8000) ? b + 1 : b - 1;
  };
  if (std::isinf(v)) return {h, h, h};
  while (val(h) > v) h = down(h);
  while ((h & 0x7FFF) != inf && val(Up(h)) <= v) h = Up(h);
  if (val(h) == v) return {h, h, h};
  const uint16_t hi = Up(h);
  // Overflow: beyond the largest finite value, nearest is inf from the
  // midpoint to the next (virtual) power of two on.
  const long double dl = v - val(h), dh = val(hi) - v;
  uint16_t nearest = dl < dh ? h : dh < dl ? hi : ((h & 1) ? hi : h);
  if ((hi & 0x7FFF) == inf || (h & 0x7FFF) == inf) {
    const uint16_t finite = (hi & 0x7FFF) == inf ? h : hi;
    const uint16_t infinite = (hi & 0x7FFF) == inf ? hi : h;
    const long double max = std::fabs(val(finite));
    const long double half_ulp = (max - std::fabs(val(finite - 1))) / 2;
    nearest = std::fabs(v) >= max + half_ulp ? infinite : finite;
  }
  return {h, hi, nearest};
}

struct Tally {
  int64_t correct = 0, faithful_only = 0, nan = 0;
  std::vector<std::string> failures;
};

void Compare(DType t, const Reference& ref, bool backward,
             const std::vector<uint16_t>& got, Tally& tally) {
  for (int i = 0; i < kPatterns; ++i) {
    const float x = Widen(t, static_cast<uint16_t>(i));
    const float g = Widen(t, got[i]);
    const long double want = backward ? ref.DF(x) : ref.F(x);
    auto fail = [&](const char* why) {
      if (tally.failures.size() < 8) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "%s x=%.9g (0x%04x) got=%.9g want=%.12Lg", why, x, i, g,
                      want);
        tally.failures.push_back(buf);
      }
    };
    if (std::isnan(want)) {
      const uint16_t quiet = t == DType::kBFloat16 ? 0x7FC0 : 0x7E00;
      if ((got[i] & quiet) != quiet) fail("not a quiet NaN");
      ++tally.nan;
      continue;
    }
    const Bracket b = BracketOf(t, want);
    const auto same = [&](uint16_t h) {
      return h == got[i] || (Widen(t, h) == 0 && g == 0);
    };
    if (same(b.nearest)) {
      ++tally.correct;
    } else if (same(b.lo) || same(b.hi)) {
      ++tally.faithful_only;
      if (std::getenv("ACTD_HALF_VERBOSE") != nullptr) {
        std::printf("  faithful only: x=%.9g got=%.9g want=%.15Lg\n", x, g,
                    want);
      }
    } else {
      fail("beyond 1 ulp");
    }
  }
}

// Runs forward or backward (dy absent: ones) on all patterns.
std::vector<uint16_t> RunAll(DType t, const Reference& ref, bool backward,
                             const std::vector<uint16_t>& patterns) {
  ActivationRequest req;
  req.name = ref.name;
  req.params = &ref.params;
  req.input = ConstTensorView{t, patterns.data(), {kPatterns}};
  BufferSink sink;
  const absl::Status s =
      backward ? RunBackward(req, sink) : RunForward(req, sink);
  EXPECT_TRUE(s.ok()) << s;
  const BufferSink::Buffer* out = sink.Find(backward ? "grad_input" : "output");
  std::vector<uint16_t> v(kPatterns);
  if (out == nullptr || out->dtype != t) {
    ADD_FAILURE() << "no " << DTypeName(t) << " result";
    return v;
  }
  std::memcpy(v.data(), out->bytes.data(), kPatterns * 2);
  return v;
}

// Below the 99.9% floor today (docs/SPEC.md, "bfloat16 and float16"): ELU
// with alpha = 2.5 in bfloat16 for tiny negative x, where alpha·x is an exact
// bfloat16 tie and the exact value alpha·expm1(x) lies off it by about x²,
// below float64's resolution too, so no float kernel sees the side; the
// results are faithful (the other neighbour). Fixing it needs the kernel to
// break such ties by the sign of the x²/2 term.
const int64_t* KnownGap(const std::string& what) {
  static const int64_t kEluBf16 = 133;
  return what == "bf16_elu(alpha=2.5)_forward" ? &kEluBf16 : nullptr;
}

class HalfExhaustiveTest : public ::testing::TestWithParam<int> {};

TEST_P(HalfExhaustiveTest, AllPatternsWithinOneUlpAndCorrectlyRounded) {
  const Reference& ref = ElementwiseReferences()[GetParam()];
  std::vector<uint16_t> patterns(kPatterns);
  for (int i = 0; i < kPatterns; ++i) patterns[i] = static_cast<uint16_t>(i);
  for (const std::string& isa : SupportedIsas()) {
    ASSERT_TRUE(SelectIsa(isa).ok());
    for (DType t : {DType::kBFloat16, DType::kFloat16}) {
      for (bool backward : {false, true}) {
        const std::string key = std::string(Name(t)) + "_" + ref.label + "_" +
                                (backward ? "backward" : "forward") + "_" +
                                isa + "_" + Conversions().isa;
        Tally tally;
        Compare(t, ref, backward, RunAll(t, ref, backward, patterns), tally);
        ::testing::Test::RecordProperty(key + "_correct", tally.correct);
        ::testing::Test::RecordProperty(key + "_faithful_only",
                                        tally.faithful_only);
        std::printf("%s correct=%lld faithful_only=%lld nan=%lld\n",
                    key.c_str(), static_cast<long long>(tally.correct),
                    static_cast<long long>(tally.faithful_only),
                    static_cast<long long>(tally.nan));
        for (const std::string& f : tally.failures) ADD_FAILURE() << key << f;
        const int64_t numbers = kPatterns - tally.nan;
        const std::string what = std::string(Name(t)) + "_" + ref.label +
                                 (backward ? "_backward" : "_forward");
        if (const int64_t* gap = KnownGap(what)) {
          // An open gap, pinned to its measured size so that any change shows.
          EXPECT_EQ(tally.faithful_only, *gap) << key;
          continue;
        }
        EXPECT_GE(tally.correct, static_cast<int64_t>(0.999 * numbers))
            << key << ": " << tally.faithful_only << " of " << numbers
            << " only faithfully rounded";
      }
    }
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
}

INSTANTIATE_TEST_SUITE_P(
    Activations, HalfExhaustiveTest,
    ::testing::Range(0, static_cast<int>(ElementwiseReferences().size())),
    [](const ::testing::TestParamInfo<int>& info) {
      std::string name = ElementwiseReferences()[info.param].label;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

// Equal bits, or both NaN (as tests/core/streaming_test.cc: the contract
// promises NaN for NaN, not its sign or payload).
bool SameBits(DType t, uint16_t a, uint16_t b) {
  return a == b || (std::isnan(Widen(t, a)) && std::isnan(Widen(t, b)));
}

// Forward, or backward with `dy` (null: ones), on the given patterns.
std::vector<uint16_t> RunOn(DType t, const Reference& ref,
                            const std::vector<uint16_t>& x,
                            const std::vector<uint16_t>* dy) {
  const int64_t n = static_cast<int64_t>(x.size());
  ActivationRequest req;
  req.name = ref.name;
  req.params = &ref.params;
  req.input = ConstTensorView{t, x.data(), {n}};
  const ConstTensorView grad{t, dy != nullptr ? dy->data() : nullptr, {n}};
  if (dy != nullptr) req.grad_output = &grad;
  BufferSink sink;
  const absl::Status s =
      dy != nullptr ? RunBackward(req, sink) : RunForward(req, sink);
  EXPECT_TRUE(s.ok()) << s;
  const BufferSink::Buffer* out =
      sink.Find(dy != nullptr ? "grad_input" : "output");
  std::vector<uint16_t> v(n);
  if (out != nullptr && out->dtype == t) {
    std::memcpy(v.data(), out->bytes.data(), n * 2);
  } else {
    ADD_FAILURE() << "no " << DTypeName(t) << " result";
  }
  return v;
}

// The 16-bit loops remember the float64 redos of a call by their inputs
// (half_loops.h, Refiner): an input seen again takes the remembered result.
// Every pattern four times over, shuffled, must give the bits of one pass over
// the distinct inputs; backward with dy from three values, pairs distinct in
// the first pass.
TEST(HalfRefiner, RepeatedInputsGiveTheBitsOfDistinctOnes) {
  std::mt19937 gen(7);
  std::vector<uint16_t> x(kPatterns), dy(kPatterns);
  const uint16_t dys[3][2] = {{0x3F80, 0x3C00},
                              {0xC0A3, 0xC51B},
                              {0x3DCD, 0x2E66}};  // 1, -5.1, 0.1 (bf16, f16)
  for (const Reference& ref : ElementwiseReferences()) {
    for (DType t : {DType::kBFloat16, DType::kFloat16}) {
      const int which = t == DType::kBFloat16 ? 0 : 1;
      std::vector<uint16_t> all_x, all_dy;
      for (int d = 0; d < 3; ++d) {
        for (int i = 0; i < kPatterns; ++i) {
          all_x.push_back(static_cast<uint16_t>(i));
          all_dy.push_back(dys[d][which]);
        }
      }
      const std::vector<uint16_t> fwd = RunOn(t, ref, all_x, nullptr);
      const std::vector<uint16_t> bwd = RunOn(t, ref, all_x, &all_dy);
      std::vector<int> order;
      for (int r = 0; r < 4; ++r) {
        for (int i = 0; i < 3 * kPatterns; ++i) order.push_back(i);
      }
      std::shuffle(order.begin(), order.end(), gen);
      std::vector<uint16_t> rx, rdy;
      for (int i : order) {
        rx.push_back(all_x[i]);
        rdy.push_back(all_dy[i]);
      }
      const std::vector<uint16_t> rfwd = RunOn(t, ref, rx, nullptr);
      const std::vector<uint16_t> rbwd = RunOn(t, ref, rx, &rdy);
      int64_t fwd_diff = 0, bwd_diff = 0;
      for (size_t k = 0; k < order.size(); ++k) {
        fwd_diff += !SameBits(t, rfwd[k], fwd[order[k]]);
        bwd_diff += !SameBits(t, rbwd[k], bwd[order[k]]);
      }
      EXPECT_EQ(fwd_diff, 0) << ref.label << " " << Name(t) << " forward";
      EXPECT_EQ(bwd_diff, 0) << ref.label << " " << Name(t) << " backward";
    }
  }
}

// hardsigmoid's 16-bit loops skip the float64 redo (kRoundsOnce) because
// dx = dy/6 is one rounding of exact values: the exhaustive test above has
// dy = 1 only, so check every dy here (x = 0.5, inside (-3, 3]) against the
// correctly rounded quotient (from double's: rounding double's 53 bits again
// to 8 or 11 is innocuous).
TEST(HalfRoundsOnce, HardsigmoidBackwardIsCorrectlyRoundedForEveryDy) {
  std::vector<uint16_t> dy(kPatterns);
  for (int i = 0; i < kPatterns; ++i) dy[i] = static_cast<uint16_t>(i);
  for (const std::string& isa : SupportedIsas()) {
    ASSERT_TRUE(SelectIsa(isa).ok());
    for (DType t : {DType::kBFloat16, DType::kFloat16}) {
      const uint16_t half = t == DType::kBFloat16 ? 0x3F00 : 0x3800;
      const std::vector<uint16_t> x(kPatterns, half);
      const ConstTensorView dy_view{t, dy.data(), {kPatterns}};
      ActivationRequest req;
      req.name = "hardsigmoid";
      req.input = ConstTensorView{t, x.data(), {kPatterns}};
      req.grad_output = &dy_view;
      BufferSink sink;
      ASSERT_TRUE(RunBackward(req, sink).ok());
      const BufferSink::Buffer* out = sink.Find("grad_input");
      ASSERT_NE(out, nullptr);
      std::vector<uint16_t> dx(kPatterns);
      std::memcpy(dx.data(), out->bytes.data(), kPatterns * 2);
      int64_t wrong = 0;
      for (int i = 0; i < kPatterns; ++i) {
        const double q = static_cast<double>(Widen(t, dy[i])) / 6.0;
        if (std::isnan(q)) {
          wrong += !std::isnan(Widen(t, dx[i]));
          continue;
        }
        const uint16_t want = BracketOf(t, q).nearest;
        if (dx[i] != want && !(Widen(t, want) == 0 && Widen(t, dx[i]) == 0)) {
          if (wrong < 8) {
            ADD_FAILURE() << isa << " " << Name(t) << " dy=0x" << std::hex
                          << dy[i] << " dx=0x" << dx[i] << " want=0x" << want;
          }
          ++wrong;
        }
      }
      EXPECT_EQ(wrong, 0) << isa << " " << Name(t);
    }
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
}

// leaky_relu's float32 results on 16-bit inputs are x, dy or one product
// with the slope rounded to float32 (kOneRounding), and the 16-bit loops redo
// in float64 only those within a float32 ulp of a 16-bit midpoint. So every
// result must be the float64 product alpha·x (forward, every x) or alpha·dy
// (backward at x = -2, every dy), alpha the double given, rounded once to the
// type (what docs/SPEC.md's float64 redo gives), on every instruction set. The
// slopes take in ties (0.75: 10-bit products), 0 (the select form), products
// below bfloat16's normals (1e-30) and a slope just below 1; 0.01f and 0.3f
// are float32 values, so that a product that float32 rounds onto a midpoint
// is caught (0.01f·0x8096 rounded twice gives 0x8002, once 0x8001).
TEST(HalfOneRounding, LeakyReluIsCorrectlyRoundedForEverySlopeAndInput) {
  std::vector<uint16_t> all(kPatterns);
  for (int i = 0; i < kPatterns; ++i) all[i] = static_cast<uint16_t>(i);
  for (const std::string& isa : SupportedIsas()) {
    ASSERT_TRUE(SelectIsa(isa).ok());
    for (DType t : {DType::kBFloat16, DType::kFloat16}) {
      const std::vector<uint16_t> x_neg(kPatterns, 0xC000);  // -2 in both
      // The last slope, float32(2049/2048/7): the float32 products a·x of 56
      // float16 inputs land exactly on a float16 midpoint the exact product
      // is not on, so rounding them to nearest even goes the wrong way.
      for (double alpha : {0.01, 0.2, 0.75, 0.3, 1.0 / 3, 1.0, 0.0, 1e-30,
                           0.99999994, double{0.01f}, double{0.3f},
                           double{static_cast<float>(2049.0 / 2048 / 7)}}) {
        Reference ref;
        ref.name = "leaky_relu";
        ref.params = ParamMap{{"alpha", ParamValue(alpha)}};
        for (bool backward : {false, true}) {
          const std::vector<uint16_t> got = backward
                                                ? RunOn(t, ref, x_neg, &all)
                                                : RunOn(t, ref, all, nullptr);
          int64_t wrong = 0;
          for (int i = 0; i < kPatterns; ++i) {
            const double v = Widen(t, static_cast<uint16_t>(i));
            const double want_value = backward || v <= 0 ? alpha * v : v;
            const bool ok = std::isnan(want_value)
                                ? std::isnan(Widen(t, got[i]))
                                : got[i] == BracketOf(t, want_value).nearest;
            if (!ok && ++wrong <= 4) {
              ADD_FAILURE() << isa << " " << Name(t) << " alpha=" << alpha
                            << (backward ? " dy=0x" : " x=0x") << std::hex << i
                            << " got=0x" << got[i] << " want=0x"
                            << BracketOf(t, want_value).nearest;
            }
          }
          EXPECT_EQ(wrong, 0) << isa << " " << Name(t) << " alpha=" << alpha
                              << (backward ? " backward" : " forward");
        }
      }
    }
  }
  ASSERT_TRUE(SelectIsa("auto").ok());
}

}  // namespace
}  // namespace actd::testing
