/** Arithmetic, comparison, membership, bit operations and number ranges. */
import { builtinError, typeError } from '../errors';
import { add, div, isInt, isZero, mul, normInt, rem, sub, toBig } from '../number';
import type { Num } from '../number';
import { RObject, RSet, compare, equal } from '../value';
import type { Value } from '../value';
import { badType, int, num } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

function arith(name: string, op: (a: Num, b: Num) => Num): BuiltinDef {
  return def(name, 2, (a) => op(num(name, a, 0), num(name, a, 1)));
}

/** `minus` is also set difference. */
function minus(a: Value[]): Value {
  const x = a[0]!;
  const y = a[1]!;
  if (x instanceof RSet || y instanceof RSet) {
    if (!(x instanceof RSet)) badType('minus', 0, 'one of {number, set}', x);
    if (!(y instanceof RSet)) badType('minus', 1, 'one of {number, set}', y);
    return RSet.of(x.values().filter((v) => !y.has(v)));
  }
  if (typeof x !== 'number' && typeof x !== 'bigint') badType('minus', 0, 'one of {number, set}', x);
  if (typeof y !== 'number' && typeof y !== 'bigint') badType('minus', 1, 'one of {number, set}', y);
  return sub(x, y);
}

function round(n: Num, mode: 'round' | 'ceil' | 'floor'): Num {
  if (isInt(n)) return n;
  const f = n as number;
  const r = mode === 'ceil' ? Math.ceil(f) : mode === 'floor' ? Math.floor(f) : Math.sign(f) * Math.round(Math.abs(f));
  return Number.isSafeInteger(r) ? (r === 0 ? 0 : r) : normInt(BigInt(r));
}

function bits(name: string, op: (a: bigint, b: bigint) => bigint): BuiltinDef {
  return def(name, 2, (a) => normInt(op(toBig(int(name, a, 0)), toBig(int(name, a, 1)))));
}

/** Integers from `a` to `b` inclusive, stepping by `step`. */
function range(a: Num, b: Num, step: bigint): Value[] {
  const out: Value[] = [];
  let x = toBig(a);
  const y = toBig(b);
  if (x <= y) for (; x <= y; x += step) out.push(normInt(x));
  else for (; x >= y; x -= step) out.push(normInt(x));
  return out;
}

const RANGE_LIMIT = 10_000_000n;

/** Registry entries of this family. */
export const arithmeticBuiltins: BuiltinDef[] = [
  arith('plus', add),
  def('minus', 2, minus),
  arith('mul', mul),
  def('div', 2, (a) => {
    const x = num('div', a, 0);
    const y = num('div', a, 1);
    if (isZero(y)) throw builtinError('div', 'divide by zero');
    return div(x, y);
  }),
  def('rem', 2, (a) => {
    const x = num('rem', a, 0);
    const y = num('rem', a, 1);
    if (!isInt(x) || !isInt(y)) throw builtinError('rem', 'modulo on floating-point number');
    if (isZero(y)) throw builtinError('rem', 'modulo by zero');
    return rem(x, y);
  }),
  def('abs', 1, (a) => {
    const x = num('abs', a, 0);
    return typeof x === 'bigint' ? normInt(x < 0n ? -x : x) : Math.abs(x);
  }),
  def('round', 1, (a) => round(num('round', a, 0), 'round')),
  def('ceil', 1, (a) => round(num('ceil', a, 0), 'ceil')),
  def('floor', 1, (a) => round(num('floor', a, 0), 'floor')),
  def('equal', 2, (a) => equal(a[0]!, a[1]!)),
  def('neq', 2, (a) => !equal(a[0]!, a[1]!)),
  def('lt', 2, (a) => compare(a[0]!, a[1]!) < 0),
  def('gt', 2, (a) => compare(a[0]!, a[1]!) > 0),
  def('lte', 2, (a) => compare(a[0]!, a[1]!) <= 0),
  def('gte', 2, (a) => compare(a[0]!, a[1]!) >= 0),
  def('internal.member_2', 2, (a) => {
    const [x, c] = a as [Value, Value];
    if (Array.isArray(c)) return c.some((v) => equal(v, x));
    if (c instanceof RSet) return c.has(x);
    if (c instanceof RObject) {
      for (const [, v] of c.rawEntries()) if (equal(v, x)) return true;
    }
    return false;
  }),
  def('internal.member_3', 3, (a) => {
    const [k, x, c] = a as [Value, Value, Value];
    if (Array.isArray(c)) {
      if (typeof k !== 'number' || !Number.isInteger(k)) return false;
      const v = c[k];
      return v !== undefined && equal(v, x);
    }
    if (c instanceof RObject) {
      const v = c.get(k);
      return v !== undefined && equal(v, x);
    }
    // A set element is its own key.
    if (c instanceof RSet) return equal(k, x) && c.has(x);
    return false;
  }),
  bits('bits.or', (x, y) => x | y),
  bits('bits.and', (x, y) => x & y),
  bits('bits.xor', (x, y) => x ^ y),
  bits('bits.lsh', (x, y) => {
    if (y < 0n) throw typeError('bits.lsh', 'operand 2 must be an unsigned integer number but got a negative integer');
    return x << y;
  }),
  bits('bits.rsh', (x, y) => {
    if (y < 0n) throw typeError('bits.rsh', 'operand 2 must be an unsigned integer number but got a negative integer');
    return x >> y;
  }),
  def('bits.negate', 1, (a) => normInt(~toBig(int('bits.negate', a, 0)))),
  def('numbers.range', 2, (a) => {
    const x = int('numbers.range', a, 0);
    const y = int('numbers.range', a, 1);
    const n = toBig(x) - toBig(y);
    if ((n < 0n ? -n : n) > RANGE_LIMIT) throw builtinError('numbers.range', 'range too large');
    return range(x, y, 1n);
  }),
  def('numbers.range_step', 3, (a) => {
    const x = int('numbers.range_step', a, 0);
    const y = int('numbers.range_step', a, 1);
    const s = int('numbers.range_step', a, 2);
    if (toBig(s) <= 0n) throw builtinError('numbers.range_step', 'step must be a positive integer');
    const n = toBig(x) - toBig(y);
    if ((n < 0n ? -n : n) / toBig(s) > RANGE_LIMIT) throw builtinError('numbers.range_step', 'range too large');
    return range(x, y, toBig(s));
  }),
];
