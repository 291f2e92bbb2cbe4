/** json/yaml/base64/hex/urlquery encodings and to_number. */
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { builtinError, typeError } from '../errors';
import { parseJSON, numberFromText } from '../json';
import { RObject, RSet, fromJS, jsonString, jsonText, toJSON } from '../value';
import type { Value } from '../value';
import { badType, obj, str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

const enc = new TextEncoder();
const dec = new TextDecoder();

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Standard base64 (with `url` the URL alphabet; `pad` adds `=`). */
export function base64Encode(bytes: Uint8Array, url = false, pad = true): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    out += B64[b0 >> 2]! + B64[((b0 & 3) << 4) | ((b1 ?? 0) >> 4)]!;
    out += b1 === undefined ? (pad ? '=' : '') : B64[((b1 & 15) << 2) | ((b2 ?? 0) >> 6)]!;
    out += b2 === undefined ? (pad ? '=' : '') : B64[b2 & 63]!;
  }
  return url ? out.replace(/\+/g, '-').replace(/\//g, '_') : out;
}

/** Strict base64 decoding like Go's encoding/base64; returns undefined on malformed input. */
export function base64Decode(s: string, url: boolean, padded: boolean): Uint8Array | undefined {
  const alpha = url ? /^[A-Za-z0-9_-]*$/ : /^[A-Za-z0-9+/]*$/;
  let body = s;
  if (padded) {
    if (s.length % 4 !== 0) return undefined;
    const m = /=*$/.exec(s)![0].length;
    if (m > 2) return undefined;
    body = s.slice(0, s.length - m);
    if ((body.length + m) % 4 !== 0) return undefined;
  } else if (s.length % 4 === 1) return undefined;
  if (!alpha.test(body)) return undefined;
  const std = url ? body.replace(/-/g, '+').replace(/_/g, '/') : body;
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of std) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return new Uint8Array(out);
}

function b64err(name: string, s: string): never {
  const m = /[^A-Za-z0-9+/=_-]/.exec(s);
  throw builtinError(name, `illegal base64 data at input byte ${m ? m.index : Math.max(0, s.length - (s.length % 4 || 4))}`);
}

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of enc.encode(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Go's url.QueryUnescape; undefined on a malformed escape. */
export function queryUnescape(s: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '%') {
      const h = s.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return undefined;
      bytes.push(parseInt(h, 16));
      i += 2;
    } else if (c === '+') bytes.push(32);
    else bytes.push(...enc.encode(c));
  }
  return dec.decode(new Uint8Array(bytes));
}

/** Go's json.MarshalIndent layout. */
function marshalIndent(v: Value, prefix: string, indent: string, depth: number): string {
  const nl = (d: number) => `\n${prefix}${indent.repeat(d)}`;
  if (Array.isArray(v) || v instanceof RSet) {
    const items = Array.isArray(v) ? v : v.values();
    if (items.length === 0) return '[]';
    return `[${items.map((x) => nl(depth + 1) + marshalIndent(x, prefix, indent, depth + 1)).join(',')}${nl(depth)}]`;
  }
  if (v instanceof RObject) {
    const es = v.entries();
    if (es.length === 0) return '{}';
    return (
      '{' +
      es
        .map(([k, x]) => `${nl(depth + 1) + jsonString(typeof k === 'string' ? k : jsonText(k))}: ${marshalIndent(x, prefix, indent, depth + 1)}`)
        .join(',') +
      nl(depth) +
      '}'
    );
  }
  return jsonText(v);
}

/** Parses a to_number string the way Go's strconv.ParseFloat accepts it (no inf/nan). */
function parseNumberString(s: string): number | bigint | undefined {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const t = s.startsWith('+') ? s.slice(1) : s;
  return numberFromText(t);
}

function yamlValue(text: string): Value {
  return fromJS(parseYaml(text, { version: '1.1' }));
}

/** Registry entries of this family. */
export const encodingBuiltins: BuiltinDef[] = [
  def('json.marshal', 1, (a) => jsonText(a[0]!)),
  def('json.marshal_with_options', 2, (a) => {
    const opts = obj('json.marshal_with_options', a, 1);
    let prefix = '';
    let indent = '\t';
    let pretty: boolean | undefined;
    let sawLayout = false;
    for (const [k, v] of opts.entries()) {
      if (k === 'prefix') {
        if (typeof v !== 'string') throw typeError('json.marshal_with_options', 'operand 2 prefix must be a string');
        prefix = v;
        sawLayout = true;
      } else if (k === 'indent') {
        if (typeof v !== 'string') throw typeError('json.marshal_with_options', 'operand 2 indent must be a string');
        indent = v;
        sawLayout = true;
      } else if (k === 'pretty') {
        if (typeof v !== 'boolean') throw typeError('json.marshal_with_options', 'operand 2 pretty must be a boolean');
        pretty = v;
      } else throw typeError('json.marshal_with_options', `object contained unknown key ${JSON.stringify(typeof k === 'string' ? k : jsonText(k))}`);
    }
    if (pretty === false || (pretty === undefined && !sawLayout)) return jsonText(a[0]!);
    return prefix + marshalIndent(a[0]!, prefix, indent, 0);
  }),
  def('json.unmarshal', 1, (a) => {
    const text = str('json.unmarshal', a, 0);
    try {
      return parseJSON(text);
    } catch (e) {
      throw builtinError('json.unmarshal', (e as Error).message);
    }
  }),
  def('json.is_valid', 1, (a) => {
    if (typeof a[0] !== 'string') return false;
    try {
      parseJSON(a[0]);
      return true;
    } catch {
      return false;
    }
  }),
  def('yaml.marshal', 1, (a) => stringifyYaml(toJSON(a[0]!))),
  def('yaml.unmarshal', 1, (a) => {
    const text = str('yaml.unmarshal', a, 0);
    try {
      return yamlValue(text);
    } catch (e) {
      throw builtinError('yaml.unmarshal', (e as Error).message);
    }
  }),
  def('yaml.is_valid', 1, (a) => {
    if (typeof a[0] !== 'string') return false;
    try {
      yamlValue(a[0]);
      return true;
    } catch {
      return false;
    }
  }),
  def('base64.encode', 1, (a) => base64Encode(enc.encode(str('base64.encode', a, 0)))),
  def('base64.decode', 1, (a) => {
    const s = str('base64.decode', a, 0);
    const b = base64Decode(s, false, true);
    if (!b) b64err('base64.decode', s);
    return dec.decode(b);
  }),
  def('base64.is_valid', 1, (a) => base64Decode(str('base64.is_valid', a, 0), false, true) !== undefined),
  def('base64url.encode', 1, (a) => base64Encode(enc.encode(str('base64url.encode', a, 0)), true)),
  def('base64url.encode_no_pad', 1, (a) => base64Encode(enc.encode(str('base64url.encode_no_pad', a, 0)), true, false)),
  def('base64url.decode', 1, (a) => {
    const s = str('base64url.decode', a, 0);
    const b = s.length % 4 === 0 ? base64Decode(s, true, true) : base64Decode(s, true, false);
    if (!b) b64err('base64url.decode', s);
    return dec.decode(b);
  }),
  def('hex.encode', 1, (a) => Array.from(enc.encode(str('hex.encode', a, 0)), (b) => b.toString(16).padStart(2, '0')).join('')),
  def('hex.decode', 1, (a) => {
    const s = str('hex.decode', a, 0);
    if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
      const bad = /[^0-9a-fA-F]/.exec(s);
      throw builtinError(
        'hex.decode',
        bad
          ? `encoding/hex: invalid byte: U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} ${JSON.stringify(bad[0]).replace(/"/g, "'")}`
          : 'encoding/hex: odd length hex string',
      );
    }
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
    return dec.decode(out);
  }),
  def('urlquery.encode', 1, (a) => queryEscape(str('urlquery.encode', a, 0))),
  def('urlquery.decode', 1, (a) => {
    const s = str('urlquery.decode', a, 0);
    const r = queryUnescape(s);
    if (r === undefined) throw builtinError('urlquery.decode', `invalid URL escape`);
    return r;
  }),
  def('urlquery.encode_object', 1, (a) => {
    const o = obj('urlquery.encode_object', a, 0);
    const parts: string[] = [];
    for (const [k, v] of o.entries()) {
      if (typeof k !== 'string') badType('urlquery.encode_object', 0, 'object[string: any<string, array[string], set[string]>]', o);
      const vals =
        typeof v === 'string'
          ? [v]
          : Array.isArray(v)
            ? v
            : v instanceof RSet
              ? v.values()
              : badType('urlquery.encode_object', 0, 'object[string: any<string, array[string], set[string]>]', o);
      for (const x of vals) {
        if (typeof x !== 'string') badType('urlquery.encode_object', 0, 'object[string: any<string, array[string], set[string]>]', o);
        parts.push(`${queryEscape(k)}=${queryEscape(x)}`);
      }
    }
    return parts.join('&');
  }),
  def('urlquery.decode_object', 1, (a) => {
    const s = str('urlquery.decode_object', a, 0);
    const out = new RObject();
    for (const part of s.split(/[&]/)) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const k = queryUnescape(eq < 0 ? part : part.slice(0, eq));
      const v = queryUnescape(eq < 0 ? '' : part.slice(eq + 1));
      if (k === undefined || v === undefined) throw builtinError('urlquery.decode_object', 'invalid URL escape');
      const cur = out.get(k);
      out.set(k, Array.isArray(cur) ? [...cur, v] : [v]);
    }
    return out;
  }),
  def('to_number', 1, (a) => {
    const v = a[0]!;
    if (v === null) return 0;
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number' || typeof v === 'bigint') return v;
    if (typeof v === 'string') {
      const n = parseNumberString(v);
      if (n === undefined) {
        if (/^[+-]?(inf|infinity|nan)$/i.test(v))
          throw typeError('to_number', `operand 1 must be a valid number string but got ${JSON.stringify(v)}`);
        throw builtinError('to_number', `strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
      }
      return n;
    }
    return badType('to_number', 0, 'one of {null, boolean, number, string}', v);
  }),
];
