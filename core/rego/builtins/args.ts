/** Operand checks with OPA's exact type-error wording (`NAME: operand N must be T but got U`). */
import { typeError } from '../errors';
import { RObject, RSet, typeName } from '../value';
import type { Value } from '../value';

/** Raises OPA's operand type error. */
export function badType(name: string, i: number, want: string, got: Value): never {
  throw typeError(name, `operand ${i + 1} must be ${want} but got ${typeName(got)}`);
}

/** A string operand. */
export function str(name: string, args: Value[], i: number): string {
  const v = args[i]!;
  if (typeof v !== 'string') badType(name, i, 'string', v);
  return v;
}

/** A number operand. */
export function num(name: string, args: Value[], i: number): number | bigint {
  const v = args[i]!;
  if (typeof v !== 'number' && typeof v !== 'bigint') badType(name, i, 'number', v);
  return v;
}

/** An array operand. */
export function arr(name: string, args: Value[], i: number): Value[] {
  const v = args[i]!;
  if (!Array.isArray(v)) badType(name, i, 'array', v);
  return v;
}

/** An object operand. */
export function obj(name: string, args: Value[], i: number): RObject {
  const v = args[i]!;
  if (!(v instanceof RObject)) badType(name, i, 'object', v);
  return v;
}

/** A set operand. */
export function set(name: string, args: Value[], i: number): RSet {
  const v = args[i]!;
  if (!(v instanceof RSet)) badType(name, i, 'set', v);
  return v;
}

/** An integer operand (OPA: "operand N must be integer number but got floating-point number"). */
export function int(name: string, args: Value[], i: number): number | bigint {
  const v = num(name, args, i);
  if (typeof v === 'number' && !Number.isInteger(v)) throw typeError(name, `operand ${i + 1} must be integer number but got floating-point number`);
  return v;
}

/** Elements of an array or set operand. */
export function arrayOrSet(name: string, args: Value[], i: number): Value[] {
  const v = args[i]!;
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.values();
  return badType(name, i, 'one of {array, set}', v);
}

/** String elements of a string, array or set operand (strings.any_prefix_match style). */
export function stringsOf(name: string, args: Value[], i: number): string[] {
  const v = args[i]!;
  if (typeof v === 'string') return [v];
  const items = Array.isArray(v) ? v : v instanceof RSet ? v.values() : badType(name, i, 'one of {string, set, array}', v);
  return items.map((x) => {
    if (typeof x !== 'string')
      throw typeError(
        name,
        `operand ${i + 1} must be ${Array.isArray(v) ? 'array' : 'set'} of strings but got ${Array.isArray(v) ? 'array' : 'set'} containing ${typeName(x)}`,
      );
    return x;
  });
}
