/** units.parse and units.parse_bytes (SI and binary suffixes), computed exactly. */
import { builtinError } from '../errors';
import { normInt } from '../number';
import type { Value } from '../value';
import { str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

const K = 1000n;
const KI = 1024n;
/** Multiplier as a fraction [numerator, denominator]. */
type Ratio = [bigint, bigint];

const DECIMAL: Record<string, bigint> = { k: K, m: K ** 2n, g: K ** 3n, t: K ** 4n, p: K ** 5n, e: K ** 6n };
const BINARY: Record<string, bigint> = { ki: KI, mi: KI ** 2n, gi: KI ** 3n, ti: KI ** 4n, pi: KI ** 5n, ei: KI ** 6n };

/** Splits "2.5e3Ki" into "2.5e3" and "Ki". */
function split(s: string): [string, string] {
  let i = s[0] === '-' || s[0] === '+' ? 1 : 0;
  while (i < s.length && /[0-9.]/.test(s[i]!)) i++;
  const m = /^[eE][+-]?\d/.exec(s.slice(i));
  if (m && /\d/.test(s.slice(0, i))) {
    i += m[0].length;
    while (i < s.length && /\d/.test(s[i]!)) i++;
  }
  return [s.slice(0, i), s.slice(i)];
}

/** Exact decimal: "−3.5e2" → [-350n, 1n]. Undefined when malformed. */
function decimal(name: string, num: string): Ratio | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(num);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const frac = m[3] ?? '';
  let n = BigInt((m[2] || '0') + frac);
  let d = 10n ** BigInt(frac.length);
  const exp = Number(m[4] ?? 0);
  if (Math.abs(exp) > 1000) throw builtinError(name, 'exponent too large');
  if (exp > 0) n *= 10n ** BigInt(exp);
  else if (exp < 0) d *= 10n ** BigInt(-exp);
  return [m[1] === '-' ? -n : n, d];
}

/** A ratio as a Rego number: exact when integral, a double otherwise. */
function ratioValue([n, d]: Ratio): Value {
  if (n % d === 0n) return normInt(n / d);
  return Number(n) / Number(d);
}

function prepare(name: string, raw: string): string {
  const s = raw.replace(/^"+|"+$/g, '');
  if (s.includes(' ')) throw builtinError(name, 'spaces not allowed in resource strings');
  return s;
}

function parse(raw: string): Value {
  const name = 'units.parse';
  const s = prepare(name, raw);
  const [num, unit] = split(s);
  if (num === '') throw builtinError(name, 'no amount provided');
  let mult: Ratio;
  const lower = unit.toLowerCase();
  if (unit === '') mult = [1n, 1n];
  else if (unit === 'm') mult = [1n, 1000n];
  else if (DECIMAL[lower] !== undefined && unit.length === 1) mult = [DECIMAL[lower]!, 1n];
  else if (BINARY[lower] !== undefined) mult = [BINARY[lower]!, 1n];
  else throw builtinError(name, `unit ${unit} not recognized`);
  const r = decimal(name, num);
  if (!r) throw builtinError(name, 'could not parse amount to a number');
  return ratioValue([r[0] * mult[0], r[1] * mult[1]]);
}

function parseBytes(raw: string): Value {
  const name = 'units.parse_bytes';
  const s = prepare(name, raw).toLowerCase();
  const [num, unit] = split(s);
  if (num === '') throw builtinError(name, 'no byte amount provided');
  let mult: bigint;
  if (unit === '') mult = 1n;
  else if (DECIMAL[unit.replace(/b$/, '')] !== undefined && /^[kmgtpe]b?$/.test(unit)) mult = DECIMAL[unit[0]!]!;
  else if (/^[kmgtpe]ib?$/.test(unit)) mult = BINARY[unit.slice(0, 2)]!;
  else throw builtinError(name, `byte unit ${unit} not recognized`);
  const r = decimal(name, num);
  if (!r) throw builtinError(name, 'could not parse byte amount to a number');
  const n = r[0] * mult;
  // Truncate toward zero like big.Float.Int.
  return normInt(n / r[1]);
}

/** Registry entries of this family. */
export const unitBuiltins: BuiltinDef[] = [
  def('units.parse', 1, (a) => parse(str('units.parse', a, 0))),
  def('units.parse_bytes', 1, (a) => parseBytes(str('units.parse_bytes', a, 0))),
];
