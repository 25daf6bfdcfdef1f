// The two 16-bit floating types of the wire, bfloat16 and IEEE binary16
// (float16), as bit patterns: rounding from double and widening back.
// Rounding is done once, from the double value, to nearest with ties to even,
// so a value typed as 0.1 is rounded as 0.1 and not as float(0.1).
#ifndef ACTD_CLIENT_LIB_HALF_FLOAT_H_
#define ACTD_CLIENT_LIB_HALF_FLOAT_H_

#include <cstdint>

namespace actd::client {

// Round to nearest even; overflow gives ±inf, NaN a quiet NaN of the sign.
uint16_t DoubleToBfloat16(double value);
uint16_t DoubleToFloat16(double value);

// Exact widening of the bit patterns.
double Bfloat16ToDouble(uint16_t bits);
double Float16ToDouble(uint16_t bits);

}  // namespace actd::client

#endif  // ACTD_CLIENT_LIB_HALF_FLOAT_H_
