/**
 * Rego values: null, booleans, numbers, strings, arrays, objects and sets, with OPA's total order.
 * Numbers are JS doubles, except integers beyond 2^53 which are exact BigInts (OPA keeps them exact).
 * Objects and sets are immutable once built; both iterate in OPA's sorted order.
 */
export type Value = null | boolean | number | bigint | string | Value[] | RObject | RSet;

/** Map key for a value: strings map to themselves (fast path), everything else to a `\0`-prefixed encoding. */
export function hashKey(v: Value): string {
  if (typeof v === 'string') return v.charCodeAt(0) === 0 ? `\0s${v}` : v;
  return `\0${encode(v)}`;
}

/** Unambiguous canonical encoding: equal values (1 and 1.0 included) encode identically. */
function encode(v: Value): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return `#${numberKey(v)};`;
    case 'bigint':
      return `#${v.toString()};`;
    case 'boolean':
      return v ? 't' : 'f';
    case 'object':
      if (v === null) return 'n';
      if (Array.isArray(v)) return `[${v.map(encode).join(',')}]`;
      return v.encoding();
  }
  throw new Error('not a Rego value');
}

function numberKey(n: number): string {
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return BigInt(n).toString();
  return Object.is(n, -0) ? '0' : String(n);
}

/** Rego object: any value may be a key. */
export class RObject {
  private readonly m = new Map<string, [Value, Value]>();
  private sortedCache: [Value, Value][] | undefined;
  private enc: string | undefined;

  /** Builds an object from string-keyed entries. */
  static fromRecord(rec: Record<string, Value>): RObject {
    const o = new RObject();
    for (const k of Object.keys(rec)) o.set(k, rec[k]!);
    return o;
  }

  get size(): number {
    return this.m.size;
  }
  /** Value stored under `k`, or undefined. */
  get(k: Value): Value | undefined {
    return this.m.get(hashKey(k))?.[1];
  }
  has(k: Value): boolean {
    return this.m.has(hashKey(k));
  }
  /** Inserts or replaces; only while building (objects are treated as immutable afterwards). */
  set(k: Value, v: Value): void {
    this.m.set(hashKey(k), [k, v]);
    this.sortedCache = undefined;
    this.enc = undefined;
  }
  delete(k: Value): void {
    this.m.delete(hashKey(k));
    this.sortedCache = undefined;
    this.enc = undefined;
  }
  /** Entries in OPA order (keys sorted). */
  entries(): [Value, Value][] {
    if (!this.sortedCache) {
      const arr = [...this.m.values()];
      if (arr.length > 1) arr.sort((a, b) => compare(a[0], b[0]));
      this.sortedCache = arr;
    }
    return this.sortedCache;
  }
  keys(): Value[] {
    return this.entries().map((e) => e[0]);
  }
  /** Entries in insertion order, without sorting (cheap). */
  rawEntries(): IterableIterator<[Value, Value]> {
    return this.m.values();
  }
  /** Shallow copy that can be modified. */
  copy(): RObject {
    const o = new RObject();
    for (const [h, e] of this.m) o.m.set(h, e);
    return o;
  }
  encoding(): string {
    if (this.enc === undefined) {
      const parts = [...this.m.values()].map(([k, v]) => `${encode(k)}:${encode(v)}`);
      parts.sort();
      this.enc = `{${parts.join(',')}}`;
    }
    return this.enc;
  }
}

/** Rego set. */
export class RSet {
  private readonly m = new Map<string, Value>();
  private sortedCache: Value[] | undefined;
  private enc: string | undefined;

  static of(values: Iterable<Value>): RSet {
    const s = new RSet();
    for (const v of values) s.add(v);
    return s;
  }
  get size(): number {
    return this.m.size;
  }
  has(v: Value): boolean {
    return this.m.has(hashKey(v));
  }
  /** Adds; only while building. Returns false when already present. */
  add(v: Value): boolean {
    const h = hashKey(v);
    if (this.m.has(h)) return false;
    this.m.set(h, v);
    this.sortedCache = undefined;
    this.enc = undefined;
    return true;
  }
  /** Elements in OPA order (sorted). */
  values(): Value[] {
    if (!this.sortedCache) {
      const arr = [...this.m.values()];
      if (arr.length > 1) arr.sort(compare);
      this.sortedCache = arr;
    }
    return this.sortedCache;
  }
  rawValues(): IterableIterator<Value> {
    return this.m.values();
  }
  encoding(): string {
    if (this.enc === undefined) {
      const parts = [...this.m.values()].map(encode);
      parts.sort();
      this.enc = `<${parts.join(',')}>`;
    }
    return this.enc;
  }
}

/** Type rank in OPA's order: null < boolean < number < string < array < object < set. */
function rank(v: Value): number {
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    case 'object':
      if (v === null) return 0;
      if (Array.isArray(v)) return 4;
      return v instanceof RObject ? 5 : 6;
  }
  return 7;
}

/** Compares strings by code point (UTF-8 byte order), as Go does. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca !== cb) {
      // Surrogates encode code points above U+FFFF, so they sort after all other BMP units.
      if (ca >= 0xd800 && ca <= 0xdfff) ca += 0x10000;
      if (cb >= 0xd800 && cb <= 0xdfff) cb += 0x10000;
      return ca < cb ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Compares two numbers of either representation. */
export function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  // Mixed: compare exactly when the double is integral, else against its floor.
  const [x, y, sign] = typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a as number, -1];
  if (!Number.isFinite(y)) return y > 0 ? -sign : sign;
  const fy = Math.floor(y);
  const by = BigInt(fy);
  if (x < by) return -sign;
  if (x > by) return sign;
  return fy === y ? 0 : -sign;
}

/** OPA's total order over values. */
export function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a === b ? 0 : a ? 1 : -1;
    case 2:
      return compareNumbers(a as number | bigint, b as number | bigint);
    case 3:
      return compareStrings(a as string, b as string);
    case 4:
      return compareSeq(a as Value[], b as Value[]);
    case 5: {
      const ea = (a as RObject).entries();
      const eb = (b as RObject).entries();
      const n = Math.min(ea.length, eb.length);
      for (let i = 0; i < n; i++) {
        const c = compare(ea[i]![0], eb[i]![0]);
        if (c !== 0) return c;
        const d = compare(ea[i]![1], eb[i]![1]);
        if (d !== 0) return d;
      }
      return ea.length - eb.length < 0 ? -1 : ea.length > eb.length ? 1 : 0;
    }
    default:
      return compareSeq((a as RSet).values(), (b as RSet).values());
  }
}

function compareSeq(a: Value[], b: Value[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Value equality (numbers by value). */
export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta === 'string' || ta === 'boolean' || typeof b === 'string' || typeof b === 'boolean') return false;
  if (ta === 'number' && typeof b === 'number') return false; // a === b handled above (NaN never occurs)
  return compare(a, b) === 0;
}

/** OPA type name of a value, as used in error messages and `type_name`. */
export function typeName(v: Value): string {
  switch (rank(v)) {
    case 0:
      return 'null';
    case 1:
      return 'boolean';
    case 2:
      return 'number';
    case 3:
      return 'string';
    case 4:
      return 'array';
    case 5:
      return 'object';
    default:
      return 'set';
  }
}

/** Converts a JS value (parsed JSON, or Sets/Maps/BigInts) into a Rego value. */
export function fromJS(x: unknown): Value {
  switch (typeof x) {
    case 'string':
    case 'boolean':
      return x;
    case 'number':
      return x;
    case 'bigint':
      return Number.isSafeInteger(Number(x)) && BigInt(Number(x)) === x ? Number(x) : x;
    case 'undefined':
      return null;
    case 'object': {
      if (x === null) return null;
      if (Array.isArray(x)) return x.map(fromJS);
      if (x instanceof RObject || x instanceof RSet) return x;
      if (x instanceof Set) return RSet.of([...x].map(fromJS));
      const o = new RObject();
      if (x instanceof Map) for (const [k, v] of x) o.set(fromJS(k), fromJS(v));
      else for (const k of Object.keys(x)) o.set(k, fromJS((x as Record<string, unknown>)[k]));
      return o;
    }
  }
  throw new TypeError(`cannot convert ${typeof x} to a Rego value`);
}

/** JS form of a Rego value: sets become `Set`, objects plain objects (or `Map` when a key is not a string). */
export function toJS(v: Value): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toJS);
  if (v instanceof RSet) return new Set(v.values().map(toJS));
  const entries = v.entries();
  if (entries.every(([k]) => typeof k === 'string')) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of entries) out[k as string] = toJS(val);
    return out;
  }
  return new Map(entries.map(([k, val]) => [toJS(k), toJS(val)]));
}

/** JSON-compatible form as OPA's `ast.JSON` gives it: sets become sorted arrays, non-string keys their JSON text. */
export function toJSON(v: Value): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toJSON);
  if (v instanceof RSet) return v.values().map(toJSON);
  const out: Record<string, unknown> = {};
  for (const [k, val] of v.entries()) out[typeof k === 'string' ? k : jsonText(k)] = toJSON(val);
  return out;
}

/** Compact JSON text of a value (OPA's json.marshal), exact for big integers. */
export function jsonText(v: Value): string {
  switch (typeof v) {
    case 'string':
      return jsonString(v);
    case 'number':
      return formatNumber(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return `[${v.map(jsonText).join(',')}]`;
      if (v instanceof RSet) return `[${v.values().map(jsonText).join(',')}]`;
      return (
        '{' +
        v
          .entries()
          .map(([k, val]) => `${jsonString(typeof k === 'string' ? k : jsonText(k))}:${jsonText(val)}`)
          .join(',') +
        '}'
      );
  }
  return 'null';
}

/** Go's encoding/json string escaping (escapes <, >, & and U+2028/2029 like Go does). */
export function jsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Formats a number like OPA: integers without exponent, other floats in Go's shortest 'g' form. */
export function formatNumber(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (Number.isInteger(n)) {
    if (Math.abs(n) < 1e21) return Object.is(n, -0) ? '0' : BigInt(n).toString();
    return goExp(n);
  }
  const s = String(n);
  if (s.includes('e')) return goExp(n);
  return s;
}

/** Go's %g exponent style: 1e+21, 1e-07. */
function goExp(n: number): string {
  const s = n.toExponential();
  const m = /^(-?[\d.]+)e([+-])(\d+)$/.exec(s);
  if (!m) return s;
  return `${m[1]}e${m[2]}${m[3]!.padStart(2, '0')}`;
}

/** OPA's term text (`ast.Value.String()`): strings quoted, sets `{1, 2}` or `set()`, objects `{"a": 1}`. */
export function termString(v: Value): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
    case 'bigint':
      return formatNumber(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      if (v === null) return 'null';
      if (Array.isArray(v)) return `[${v.map(termString).join(', ')}]`;
      if (v instanceof RSet) return v.size === 0 ? 'set()' : `{${v.values().map(termString).join(', ')}}`;
      return (
        '{' +
        v
          .entries()
          .map(([k, val]) => `${termString(k)}: ${termString(val)}`)
          .join(', ') +
        '}'
      );
  }
  return '';
}
