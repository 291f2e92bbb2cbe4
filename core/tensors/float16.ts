// Float16Array is not in Node 22 nor in every Worker runtime yet, so binary16 conversion is done here.

/** Rounds a number to the nearest IEEE binary16 value (ties to even) and returns its 16 bits. */
export function toFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  // Rounding first to float32 and then to float16 can double-round; do the float16 rounding from the
  // float64 value instead by scaling, which is exact for every binary16 result.
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const abs = Math.abs(value);
  if (abs >= 65520) return sign | 0x7c00; // rounds to infinity (max finite is 65504)
  if (abs < 2 ** -14) {
    // Subnormal range: units of 2^-24.
    const units = roundHalfEven(abs * 2 ** 24);
    return sign | units; // units may reach 0x400, which is exactly the smallest normal
  }
  const exponent = Math.floor(Math.log2(abs));
  let e = exponent;
  // Math.log2 can be off by one near powers of two.
  if (2 ** e > abs) e -= 1;
  if (2 ** (e + 1) <= abs) e += 1;
  let mantissa = roundHalfEven((abs / 2 ** e - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | mantissa;
}

/** Decodes IEEE binary16 bits to a number. */
export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}
