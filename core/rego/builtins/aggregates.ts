/** Aggregates (count, sum, product, max, min, sort) and type checks (is_*, type_name). */
import { typeError } from '../errors';
import { add, mul } from '../number';
import type { Num } from '../number';
import { RObject, RSet, compare, typeName } from '../value';
import type { Value } from '../value';
import { arrayOrSet, badType } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

function numbers(name: string, args: Value[]): Num[] {
  const v = args[0]!;
  const items = arrayOrSet(name, args, 0);
  return items.map((x) => {
    if (typeof x !== 'number' && typeof x !== 'bigint') {
      throw typeError(
        name,
        `operand 1 must be ${Array.isArray(v) ? 'array' : 'set'} of numbers but got ${Array.isArray(v) ? 'array' : 'set'} containing ${typeName(x)}`,
      );
    }
    return x;
  });
}

function extreme(name: string, args: Value[], sign: number): Value | undefined {
  const items = arrayOrSet(name, args, 0);
  let best: Value | undefined;
  for (const x of items) if (best === undefined || compare(x, best) * sign > 0) best = x;
  return best;
}

function isType(name: string, test: (v: Value) => boolean): BuiltinDef {
  return def(name, 1, (a) => test(a[0]!));
}

/** Registry entries of this family. */
export const aggregateBuiltins: BuiltinDef[] = [
  def('count', 1, (a) => {
    const v = a[0]!;
    if (typeof v === 'string') {
      let n = 0;
      for (const _ of v) n++;
      return n;
    }
    if (Array.isArray(v)) return v.length;
    if (v instanceof RObject || v instanceof RSet) return v.size;
    return badType('count', 0, 'one of {array, object, set, string}', v);
  }),
  def('sum', 1, (a) => numbers('sum', a).reduce<Num>((s, x) => add(s, x), 0)),
  def('product', 1, (a) => numbers('product', a).reduce<Num>((s, x) => mul(s, x), 1)),
  def('max', 1, (a) => extreme('max', a, 1)),
  def('min', 1, (a) => extreme('min', a, -1)),
  def('sort', 1, (a) => [...arrayOrSet('sort', a, 0)].sort(compare)),
  isType('is_number', (v) => typeof v === 'number' || typeof v === 'bigint'),
  isType('is_string', (v) => typeof v === 'string'),
  isType('is_boolean', (v) => typeof v === 'boolean'),
  isType('is_array', (v) => Array.isArray(v)),
  isType('is_set', (v) => v instanceof RSet),
  isType('is_object', (v) => v instanceof RObject),
  isType('is_null', (v) => v === null),
  def('type_name', 1, (a) => typeName(a[0]!)),
];
