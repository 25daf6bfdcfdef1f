// bfloat16 and float16 bit patterns <-> numbers, rounded to nearest, ties to even.
// NaN stays NaN (quiet, sign kept), values beyond the type's range become ±infinity,
// and float16 subnormals are produced and read exactly. Float64 input is first
// rounded to float32 "to odd" (an inexact result keeps its last bit set), which makes
// the second rounding to 16 bits correct: float32 carries more than 11 + 2 bits.
'use strict';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 bit pattern of v, rounded to odd when v is not a float32 value. */
function float32BitsRoundToOdd(v) {
  f32[0] = v;
  let b = u32[0];
  const r = f32[0];
  if (r !== v && v === v && (b & 1) === 0) {
    // Step one ulp toward v: up in magnitude when |r| < |v|, else down.
    b += Math.abs(r) < Math.abs(v) ? 1 : -1;
  }
  return b >>> 0;
}

function bitsToBfloat16(b) {
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x0040) & 0xffff;  // quiet NaN
  // Add half an ulp minus one, plus the kept lowest bit: ties go to even.
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

function bitsToFloat16(b) {
  const sign = (b >>> 16) & 0x8000;
  const abs = b & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff);  // quiet NaN
  if (abs >= 0x477ff000) return sign | 0x7c00;  // >= 65520 (65504 + half an ulp): inf
  if (abs >= 0x38800000) {  // normal: >= 2^-14
    const m = abs - 0x38000000;  // rebias the exponent from 127 to 15
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13);
  }
  if (abs <= 0x33000000) return sign;  // <= 2^-25, half the smallest subnormal: ±0 (ties to even)
  // Subnormal: the value in units of 2^-24 is mant * 2^(e - 126); drop s = 126 - e bits.
  const e = abs >>> 23;
  const mant = (abs & 0x7fffff) | 0x800000;
  const s = 126 - e;
  let q = mant >>> s;
  const rest = mant & ((1 << s) - 1);
  const halfway = 1 << (s - 1);
  if (rest > halfway || (rest === halfway && (q & 1))) q += 1;  // may carry into 2^-14: fine
  return sign | q;
}

function fromHalfBits(h) {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  let v;
  if (e === 0) v = m * 2 ** -24;
  else if (e === 31) v = m ? NaN : Infinity;
  else v = (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

function checkValues(values, what) {
  if (!(Array.isArray(values) || ArrayBuffer.isView(values))) {
    throw new TypeError(`${what}: expected a Float32Array, Float64Array or array of numbers`);
  }
}

/**
 * Rounds numbers to bfloat16 (nearest, ties to even).
 * @param {Float32Array|Float64Array|number[]} values
 * @returns {Uint16Array} the bit patterns.
 */
function toBfloat16Bits(values) {
  checkValues(values, 'toBfloat16Bits');
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i += 1) out[i] = bitsToBfloat16(float32BitsRoundToOdd(values[i]));
  return out;
}

/**
 * Rounds numbers to float16 (nearest, ties to even, with subnormals).
 * @param {Float32Array|Float64Array|number[]} values
 * @returns {Uint16Array} the bit patterns.
 */
function toFloat16Bits(values) {
  checkValues(values, 'toFloat16Bits');
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i += 1) out[i] = bitsToFloat16(float32BitsRoundToOdd(values[i]));
  return out;
}

/**
 * bfloat16 bit patterns -> their values (exact).
 * @param {Uint16Array|number[]} bits
 * @returns {Float32Array}
 */
function fromBfloat16Bits(bits) {
  const wide = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i += 1) wide[i] = (bits[i] & 0xffff) << 16;
  return new Float32Array(wide.buffer);
}

/**
 * float16 bit patterns -> their values (exact).
 * @param {Uint16Array|number[]} bits
 * @returns {Float32Array}
 */
function fromFloat16Bits(bits) {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i += 1) out[i] = fromHalfBits(bits[i] & 0xffff);
  return out;
}

module.exports = { toBfloat16Bits, toFloat16Bits, fromBfloat16Bits, fromFloat16Bits };
