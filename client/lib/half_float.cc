// Rounding a double to a 16-bit float. Both types are described by their
// precision p (significand bits with the hidden one: bfloat16 8, float16 11)
// and exponent range; a finite value is scaled by a power of two so that its
// last kept bit is the unit, rounded with nearbyint (the default mode is to
// nearest, ties to even), and scaled back. Scaling by 2^k is exact in double
// for every value these types can reach, so the only rounding is that one.
#include "client/lib/half_float.h"

#include <algorithm>
#include <cmath>

namespace actd::client {
namespace {

struct Format {
  int precision;  // significand bits including the hidden bit
  int min_exp;    // exponent of the smallest normal number
  int max_exp;    // exponent of the largest finite number
  int bias;
};

constexpr Format kBfloat16{8, -126, 127, 127};
constexpr Format kFloat16{11, -14, 15, 15};

// Rounds `value` to `f`; returns the bit pattern.
uint16_t Round(double value, const Format& f) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const int mantissa_bits = f.precision - 1;
  const uint16_t exp_all_ones =
      static_cast<uint16_t>(((2 * f.bias + 1) << mantissa_bits));
  if (std::isnan(value)) {
    return sign | exp_all_ones | (1u << (mantissa_bits - 1));
  }
  const double magnitude = std::fabs(value);
  if (std::isinf(magnitude)) return sign | exp_all_ones;
  if (magnitude == 0) return sign;
  int e;
  std::frexp(magnitude, &e);  // magnitude = m·2^e, m in [0.5, 1)
  const int exponent = std::max(e - 1, f.min_exp);
  const int quantum = exponent - mantissa_bits;  // weight of the last bit
  // An integer count of quanta; may carry into the next binade.
  const double units = std::nearbyint(std::ldexp(magnitude, -quantum));
  const double rounded = std::ldexp(units, quantum);
  if (rounded >= std::ldexp(1.0, f.max_exp + 1)) return sign | exp_all_ones;
  if (rounded == 0) return sign;  // underflow
  std::frexp(rounded, &e);
  if (e - 1 < f.min_exp) {  // subnormal
    return sign | static_cast<uint16_t>(
                      std::ldexp(rounded, mantissa_bits - f.min_exp));
  }
  const int biased = e - 1 + f.bias;
  const double fraction = std::ldexp(rounded, mantissa_bits - (e - 1)) -
                          std::ldexp(1.0, mantissa_bits);
  return sign | static_cast<uint16_t>(biased << mantissa_bits) |
         static_cast<uint16_t>(fraction);
}

double Widen(uint16_t bits, const Format& f) {
  const int mantissa_bits = f.precision - 1;
  const int exp_field = (bits & 0x7FFF) >> mantissa_bits;
  const int mantissa = bits & ((1 << mantissa_bits) - 1);
  const double sign = (bits & 0x8000) ? -1.0 : 1.0;
  if (exp_field == 2 * f.bias + 1) {
    return mantissa ? std::copysign(NAN, sign) : sign * INFINITY;
  }
  if (exp_field == 0) {
    return sign * std::ldexp(mantissa, f.min_exp - mantissa_bits);
  }
  return sign * std::ldexp((1 << mantissa_bits) + mantissa,
                           exp_field - f.bias - mantissa_bits);
}

}  // namespace

uint16_t DoubleToBfloat16(double value) { return Round(value, kBfloat16); }
uint16_t DoubleToFloat16(double value) { return Round(value, kFloat16); }
double Bfloat16ToDouble(uint16_t bits) { return Widen(bits, kBfloat16); }
double Float16ToDouble(uint16_t bits) { return Widen(bits, kFloat16); }

}  // namespace actd::client
