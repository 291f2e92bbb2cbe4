/**
 * Number arithmetic with OPA semantics: integers stay exact (BigInt beyond 2^53), anything
 * else is a double. Results are normalized: integers in the safe range are JS numbers.
 */
export type Num = number | bigint;

/** Whether a number is an integer (BigInts always are). */
export function isInt(n: Num): boolean {
  return typeof n === 'bigint' || Number.isInteger(n);
}

/** Canonical representation of an exact integer. */
export function normInt(b: bigint): Num {
  return b >= -9007199254740991n && b <= 9007199254740991n ? Number(b) : b;
}

/** Exact BigInt of an integer number. */
export function toBig(n: Num): bigint {
  return typeof n === 'bigint' ? n : BigInt(n);
}

/** Nearest double of a number. */
export function toFloat(n: Num): number {
  return typeof n === 'bigint' ? Number(n) : n;
}

function exactInts(a: Num, b: Num): boolean {
  return isInt(a) && isInt(b) && (typeof a === 'bigint' || typeof b === 'bigint' || !Number.isSafeInteger(a) || !Number.isSafeInteger(b));
}

/** Addition: exact for integers, double otherwise. */
export function add(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a + b;
    if (Number.isSafeInteger(r) || !Number.isInteger(a) || !Number.isInteger(b)) return r;
  } else if (!isInt(a) || !isInt(b)) return toFloat(a) + toFloat(b);
  return normInt(toBig(a) + toBig(b));
}

/** Subtraction: exact for integers, double otherwise. */
export function sub(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a - b;
    if (Number.isSafeInteger(r) || !Number.isInteger(a) || !Number.isInteger(b)) return r;
  } else if (!isInt(a) || !isInt(b)) return toFloat(a) - toFloat(b);
  return normInt(toBig(a) - toBig(b));
}

/** Multiplication: exact for integers, double otherwise. */
export function mul(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = a * b;
    if (Number.isSafeInteger(r) || !Number.isInteger(a) || !Number.isInteger(b)) return r;
  } else if (!isInt(a) || !isInt(b)) return toFloat(a) * toFloat(b);
  return normInt(toBig(a) * toBig(b));
}

/** Division; exact when both are integers and the quotient is integral. Caller checks for zero. */
export function div(a: Num, b: Num): Num {
  if (isInt(a) && isInt(b) && (exactInts(a, b) || typeof a === 'bigint' || typeof b === 'bigint')) {
    const x = toBig(a);
    const y = toBig(b);
    if (x % y === 0n) return normInt(x / y);
  }
  return toFloat(a) / toFloat(b);
}

/** Integer remainder with the sign of the dividend (Go's %). Caller checks operands. */
export function rem(a: Num, b: Num): Num {
  if (typeof a === 'number' && typeof b === 'number') return a % b === 0 ? 0 : a % b;
  return normInt(toBig(a) % toBig(b));
}

/** Whether a number is zero in either representation. */
export function isZero(n: Num): boolean {
  return typeof n === 'bigint' ? n === 0n : n === 0;
}
