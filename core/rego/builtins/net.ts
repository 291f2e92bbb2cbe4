/** net.cidr_* builtins over IPv4/IPv6 addresses held as BigInts. */
import { builtinError } from '../errors';
import { RObject, RSet } from '../value';
import type { Value } from '../value';
import { badType, str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

type IP = { addr: bigint; bits: 32 | 128 };
type Net = { addr: bigint; prefix: number; bits: 32 | 128 };

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let out = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0') || Number(p) > 255) return undefined;
    out = (out << 8n) | BigInt(p);
  }
  return out;
}

/** Parses an IPv4 or IPv6 address (Go's net.ParseIP). */
export function parseIP(s: string): IP | undefined {
  if (!s.includes(':')) {
    const v4 = parseV4(s);
    return v4 === undefined ? undefined : { addr: v4, bits: 32 };
  }
  let head = s;
  let tailV4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + (s[lastColon - 1] === ':' ? '' : '0:0');
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const group = (x: string) => (x === '' ? [] : x.split(':'));
  const left = group(dbl[0]!);
  const right = dbl.length === 2 ? group(dbl[1]!) : [];
  const total = tailV4 !== undefined ? 6 : 8;
  const fill = total - left.length - right.length;
  if ((dbl.length === 1 && fill !== 0) || fill < 0) return undefined;
  const groups = [...left, ...Array<string>(dbl.length === 2 ? fill : 0).fill('0'), ...right];
  let out = 0n;
  for (const g of groups.slice(0, total)) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out = (out << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) out = (out << 32n) | tailV4;
  return { addr: out, bits: 128 };
}

function mask(prefix: number, bits: number): bigint {
  return ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/** Parses `addr/prefix` (Go's net.ParseCIDR); the address is masked to the network. */
export function parseCIDR(s: string): Net | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p) || Number(p) > ip.bits) return undefined;
  const prefix = Number(p);
  return { addr: ip.addr & mask(prefix, ip.bits), prefix, bits: ip.bits };
}

function cidrOrIP(s: string): Net | undefined {
  const n = parseCIDR(s);
  if (n) return n;
  const ip = parseIP(s);
  return ip ? { addr: ip.addr, prefix: ip.bits, bits: ip.bits } : undefined;
}

function contains(a: Net, b: Net): boolean {
  if (a.bits !== b.bits) return false;
  return b.prefix >= a.prefix && (b.addr & mask(a.prefix, a.bits)) === a.addr;
}

/** Canonical text of an address (IPv6 compressed like Go). */
export function formatIP(addr: bigint, bits: 32 | 128): string {
  if (bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 255n)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function netString(n: Net): string {
  return `${formatIP(n.addr, n.bits)}/${n.prefix}`;
}

/** Candidate (key, cidr string) pairs from a string, array, set or object operand. */
function entries(name: string, v: Value, i: number): [Value, string][] {
  const elem = (x: Value): string => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && typeof x[0] === 'string') return x[0];
    throw builtinError(name, `operand ${i + 1}: element must be string or non-empty array`);
  };
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, k) => [k, elem(x)]);
  if (v instanceof RSet) return v.values().map((x) => [x, elem(x)]);
  if (v instanceof RObject) return v.entries().map(([k, x]) => [k, elem(x)]);
  return badType(name, i, 'one of {string, array, set, object}', v);
}

/** A bare address takes Go's default mask (classful for IPv4, /128 for IPv6), as OPA's cidr_merge does. */
function withDefaultMask(s: string): Net | undefined {
  const ip = parseIP(s);
  if (!ip) return undefined;
  if (ip.bits === 128) return { addr: ip.addr, prefix: 128, bits: 128 };
  const first = Number(ip.addr >> 24n);
  const prefix = first < 128 ? 8 : first < 192 ? 16 : 24;
  return { addr: ip.addr & mask(prefix, 32), prefix, bits: 32 };
}

/** Merges networks into the smallest covering set (Go's cidr merge as OPA implements it). */
function merge(nets: Net[]): Net[] {
  const out: Net[] = [];
  for (const bits of [32, 128] as const) {
    let list = nets.filter((n) => n.bits === bits).sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.prefix - b.prefix));
    // Drop networks contained in an earlier one.
    const kept: Net[] = [];
    for (const n of list) if (!kept.some((k) => contains(k, n))) kept.push(n);
    list = kept;
    let changed = true;
    while (changed) {
      changed = false;
      for (let i = 0; i + 1 < list.length; i++) {
        const a = list[i]!;
        const b = list[i + 1]!;
        if (a.prefix === b.prefix && a.prefix > 0) {
          const parent = { addr: a.addr & mask(a.prefix - 1, bits), prefix: a.prefix - 1, bits };
          if (parent.addr === a.addr && contains(parent, b)) {
            list.splice(i, 2, parent);
            changed = true;
            break;
          }
        }
      }
      if (changed) {
        const k2: Net[] = [];
        for (const n of list) if (!k2.some((k) => contains(k, n))) k2.push(n);
        list = k2;
      }
    }
    out.push(...list);
  }
  return out;
}

/** net.cidr_* builtins. */
export const netBuiltins: BuiltinDef[] = [
  def('net.cidr_contains', 2, (a) => {
    const c = str('net.cidr_contains', a, 0);
    const x = str('net.cidr_contains', a, 1);
    const n = parseCIDR(c);
    if (!n) throw builtinError('net.cidr_contains', `invalid CIDR address: ${c}`);
    const m = cidrOrIP(x);
    if (!m) throw builtinError('net.cidr_contains', `invalid IP address or CIDR: ${x}`);
    return contains(n, m);
  }),
  def('net.cidr_intersects', 2, (a) => {
    const x = str('net.cidr_intersects', a, 0);
    const y = str('net.cidr_intersects', a, 1);
    const n = parseCIDR(x);
    if (!n) throw builtinError('net.cidr_intersects', `invalid CIDR address: ${x}`);
    const m = parseCIDR(y);
    if (!m) throw builtinError('net.cidr_intersects', `invalid CIDR address: ${y}`);
    return contains(n, m) || contains(m, n);
  }),
  def('net.cidr_is_valid', 1, (a) => typeof a[0] === 'string' && parseCIDR(a[0]) !== undefined),
  def('net.cidr_expand', 1, (a) => {
    const c = str('net.cidr_expand', a, 0);
    const n = parseCIDR(c);
    if (!n) throw builtinError('net.cidr_expand', `invalid CIDR address: ${c}`);
    const size = 1n << BigInt(n.bits - n.prefix);
    if (size > 1n << 16n) throw builtinError('net.cidr_expand', 'CIDR range too large');
    const out = new RSet();
    for (let i = 0n; i < size; i++) out.add(formatIP(n.addr + i, n.bits));
    return out;
  }),
  def('net.cidr_contains_matches', 2, (a) => {
    const cs = entries('net.cidr_contains_matches', a[0]!, 0);
    const xs = entries('net.cidr_contains_matches', a[1]!, 1);
    const out = new RSet();
    for (const [ck, c] of cs) {
      const n = parseCIDR(c);
      if (!n) throw builtinError('net.cidr_contains_matches', `invalid CIDR address: ${c}`);
      for (const [xk, x] of xs) {
        const m = cidrOrIP(x);
        if (!m) throw builtinError('net.cidr_contains_matches', `invalid IP address or CIDR: ${x}`);
        if (contains(n, m)) out.add([ck, xk]);
      }
    }
    return out;
  }),
  def('net.cidr_merge', 1, (a) => {
    const v = a[0]!;
    const items = Array.isArray(v) ? v : v instanceof RSet ? v.values() : badType('net.cidr_merge', 0, 'one of {array, set}', v);
    const nets = items.map((x) => {
      if (typeof x !== 'string') return badType('net.cidr_merge', 0, 'array of strings', v);
      const n = parseCIDR(x) ?? withDefaultMask(x);
      if (!n) throw builtinError('net.cidr_merge', `IPv4 or IPv6 address or CIDR block required: ${x}`);
      return n;
    });
    return RSet.of(merge(nets).map(netString));
  }),
];
