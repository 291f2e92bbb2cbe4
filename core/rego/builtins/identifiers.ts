/** uuid.parse, semver.* and uri.* builtins. */
import { builtinError } from '../errors';
import { normInt } from '../number';
import { RObject } from '../value';
import type { Value } from '../value';
import { str } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

// ---- uuid ----

/** Parses a UUID in the forms google/uuid accepts; undefined when malformed. */
function uuidBytes(s: string): Uint8Array | undefined {
  let hex: string;
  if (s.length === 36) hex = s;
  else if (s.length === 38) hex = s.slice(1, -1);
  else if (s.length === 45 && s.slice(0, 9).toLowerCase() === 'urn:uuid:') hex = s.slice(9);
  else if (s.length === 32) hex = `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  else return undefined;
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(hex)) return undefined;
  const h = hex.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function uuidParse(s: string): Value | undefined {
  const b = uuidBytes(s);
  if (!b) return undefined;
  const version = b[6]! >> 4;
  const v = b[8]!;
  const variant = (v & 0xc0) === 0x80 ? 'RFC4122' : (v & 0xe0) === 0xc0 ? 'Microsoft' : (v & 0xe0) === 0xe0 ? 'Future' : 'Reserved';
  const out = new RObject();
  out.set('version', version);
  out.set('variant', variant);
  if (version === 1 || version === 2) {
    const u32 = (i: number) => BigInt(((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0);
    const u16 = (i: number) => BigInt((b[i]! << 8) | b[i + 1]!);
    const t = u32(0) | (u16(4) << 32n) | ((u16(6) & 0xfffn) << 48n);
    out.set('time', normInt((t - 122192928000000000n) * 100n));
    out.set('clocksequence', ((b[8]! << 8) | b[9]!) & 0x3fff);
    out.set('nodeid', Array.from(b.slice(10), (x) => x.toString(16).padStart(2, '0')).join('-'));
    out.set('macvariables', `${b[10]! & 2 ? 'local' : 'global'}:${b[10]! & 1 ? 'multicast' : 'unicast'}`);
    if (version === 2) {
      out.set('domain', ['Person', 'Group', 'Org'][b[9]!] ?? `Domain${b[9]}`);
      out.set('id', Number(u32(0)));
    }
  }
  return out;
}

// ---- semver ----

type SemVer = { major: bigint; minor: bigint; patch: bigint; pre: string[] };

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function semver(s: string): SemVer | undefined {
  const m = SEMVER.exec(s);
  if (!m) return undefined;
  return { major: BigInt(m[1]!), minor: BigInt(m[2]!), patch: BigInt(m[3]!), pre: m[4] ? m[4].split('.') : [] };
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function semverCompare(a: SemVer, b: SemVer): number {
  const c = cmpBig(a.major, b.major) || cmpBig(a.minor, b.minor) || cmpBig(a.patch, b.patch);
  if (c) return c;
  if (!a.pre.length || !b.pre.length) return a.pre.length === b.pre.length ? 0 : a.pre.length ? -1 : 1;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = cmpBig(BigInt(x), BigInt(y));
      if (d) return d;
    } else if (xn !== yn) return xn ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return a.pre.length === b.pre.length ? 0 : a.pre.length < b.pre.length ? -1 : 1;
}

// ---- uri (Go's net/url.Parse subset) ----

/** Decodes a percent-encoded string; throws Go's "invalid URL escape" message. */
function urlUnescape(s: string, whole: string): string {
  const bad = /%(?![0-9a-fA-F]{2})/.exec(s);
  if (bad) throw builtinError('uri.parse', `parse ${JSON.stringify(whole)}: invalid URL escape ${JSON.stringify(s.slice(bad.index, bad.index + 3))}`);
  try {
    return decodeURIComponent(s);
  } catch {
    return s.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
}

/** Path as Go's EscapedPath shows it: percent-escapes kept only where the character is not allowed raw. */
function escapedPath(raw: string): string {
  return raw.replace(/%([0-9a-fA-F]{2})/g, (m, h: string) => {
    const c = String.fromCharCode(parseInt(h, 16));
    return /[A-Za-z0-9\-._~!$&'()*+,;=:@]/.test(c) ? c : m.toUpperCase();
  });
}

function uriParse(s: string): RObject {
  const fail = (msg: string): never => {
    throw builtinError('uri.parse', `parse ${JSON.stringify(s)}: ${msg}`);
  };
  const out = new RObject();
  let rest = s;
  const hash = rest.indexOf('#');
  let fragment = '';
  if (hash >= 0) {
    fragment = urlUnescape(rest.slice(hash + 1), s);
    rest = rest.slice(0, hash);
  }
  const sm = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(rest);
  let scheme = '';
  if (sm) {
    scheme = sm[1]!.toLowerCase();
    rest = rest.slice(sm[0].length);
  }
  let rawQuery = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let hostname = '';
  let port = '';
  let path = '';
  let rawPath = '';
  if (scheme && !rest.startsWith('/')) {
    // Opaque URI such as mailto:user@example.com.
  } else {
    if (rest.startsWith('//')) {
      rest = rest.slice(2);
      const slash = rest.indexOf('/');
      let authority = slash >= 0 ? rest.slice(0, slash) : rest;
      rest = slash >= 0 ? rest.slice(slash) : '';
      const at = authority.lastIndexOf('@');
      if (at >= 0) {
        const userinfo = authority.slice(0, at);
        if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:%]*$/.test(userinfo)) fail('net/url: invalid userinfo');
        authority = authority.slice(at + 1);
      }
      if (authority.startsWith('[')) {
        const end = authority.indexOf(']');
        if (end < 0) fail(`missing ']' in host`);
        hostname = authority.slice(1, end);
        const after = authority.slice(end + 1);
        if (after) {
          if (!/^:\d*$/.test(after)) fail(`invalid port ${JSON.stringify(after)} after host`);
          port = after.slice(1);
        }
      } else {
        const colon = authority.lastIndexOf(':');
        if (colon >= 0) {
          const p = authority.slice(colon);
          if (!/^:[0-9]*$/.test(p)) fail(`invalid port ${JSON.stringify(p)} after host`);
          port = p.slice(1);
          authority = authority.slice(0, colon);
        }
        const bad = /%(?![0-9a-fA-F]{2})|%[0-9a-fA-F]{2}/.exec(authority);
        if (bad) fail(`invalid URL escape ${JSON.stringify(authority.slice(bad.index, bad.index + 3))}`);
        hostname = authority;
      }
    }
    path = urlUnescape(rest, s);
    rawPath = escapedPath(rest);
  }
  if (scheme) out.set('scheme', scheme);
  if (hostname) out.set('hostname', hostname);
  if (port) out.set('port', port);
  if (path) out.set('path', path);
  if (rawPath) out.set('raw_path', rawPath);
  if (rawQuery) out.set('raw_query', rawQuery);
  if (fragment) out.set('fragment', fragment);
  return out;
}

/** Registry entries of this family. */
export const identifierBuiltins: BuiltinDef[] = [
  def('uuid.parse', 1, (a) => (typeof a[0] === 'string' ? uuidParse(a[0]) : undefined)),
  def('semver.is_valid', 1, (a) => typeof a[0] === 'string' && semver(a[0]) !== undefined),
  def('semver.compare', 2, (a) => {
    const x = str('semver.compare', a, 0);
    const y = str('semver.compare', a, 1);
    const vx = semver(x);
    if (!vx) throw builtinError('semver.compare', `operand 1: string ${JSON.stringify(x)} is not a valid SemVer`);
    const vy = semver(y);
    if (!vy) throw builtinError('semver.compare', `operand 2: string ${JSON.stringify(y)} is not a valid SemVer`);
    return semverCompare(vx, vy);
  }),
  def('uri.parse', 1, (a) => uriParse(str('uri.parse', a, 0))),
  def('uri.is_valid', 1, (a) => {
    if (typeof a[0] !== 'string' || a[0] === '') return false;
    try {
      uriParse(a[0]);
      return true;
    } catch {
      return false;
    }
  }),
];
