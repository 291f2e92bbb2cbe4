/** io.jwt.* builtins: decode, verify (HS/RS/PS/ES/EdDSA), decode_verify and signing. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { builtinError } from '../errors';
import { parseJSON } from '../json';
import { RObject, RSet, equal, jsonText } from '../value';
import type { Value } from '../value';
import { obj, str } from './args';
import { toHex } from './crypto';
import { base64Decode, base64Encode } from './encoding';
import { CURVES, HASHES, KeyError, ecVerify, edVerify, jwk, parseKeys, rsaSignPKCS1, rsaVerifyPKCS1, rsaVerifyPSS } from './keys';
import type { HashName, Key } from './keys';
import { def } from './types';
import type { BuiltinContext, BuiltinDef } from './types';

const enc = new TextEncoder();
const dec = new TextDecoder();

type Decoded = { header: RObject; payload: Value; signature: Uint8Array; signingInput: string };

function b64urlBytes(name: string, s: string, part = 'JWT'): Uint8Array {
  const b = base64Decode(s.replace(/=+$/, ''), true, false);
  if (!b) {
    const bad = /[^A-Za-z0-9_=-]/.exec(s);
    const at = bad ? bad.index : s.length - 1;
    throw builtinError(name, `${part} had invalid encoding: illegal base64 data at input byte ${at}`);
  }
  return b;
}

function jsonObject(name: string, bytes: Uint8Array, what: string): Value {
  try {
    return parseJSON(dec.decode(bytes));
  } catch {
    throw builtinError(name, `failed to parse JWT ${what}: invalid JSON`);
  }
}

/** Splits and decodes a compact JWS (nested `cty: JWT` tokens are unwrapped). */
function decode(name: string, token: string): Decoded {
  const parts = token.split('.');
  if (parts.length === 1) throw builtinError(name, 'encoded JWT had no period separators');
  if (parts.length === 5) throw builtinError(name, 'JWT is a JWE object, which is not supported');
  if (parts.length !== 3) throw builtinError(name, `encoded JWT must have 3 sections, found ${parts.length}`);
  const header = jsonObject(name, b64urlBytes(name, parts[0]!, 'JWT header'), 'header');
  if (!(header instanceof RObject)) throw builtinError(name, 'failed to parse JWT header');
  if (header.has('enc')) throw builtinError(name, 'JWT is a JWE object, which is not supported');
  const payloadBytes = b64urlBytes(name, parts[1]!, 'JWT payload');
  const signature = b64urlBytes(name, parts[2]!, 'JWT signature');
  const cty = header.get('cty');
  if (typeof cty === 'string' && cty.toUpperCase() === 'JWT') {
    // The payload is the nested token, possibly as a JSON string.
    let inner = dec.decode(payloadBytes);
    if (inner.startsWith('"')) {
      try {
        const v = parseJSON(inner);
        if (typeof v === 'string') inner = v;
      } catch {
        // not a JSON string: use the raw text
      }
    }
    if (!inner.includes('.')) throw builtinError(name, 'type is JWT but payload is not JSON');
    return decode(name, inner);
  }
  let payload: Value;
  try {
    payload = parseJSON(dec.decode(payloadBytes));
  } catch {
    throw builtinError(name, 'type is JWT but payload is not JSON');
  }
  return { header, payload, signature, signingInput: `${parts[0]}.${parts[1]}` };
}

const ALGS: Record<string, { kind: 'HS' | 'RS' | 'PS' | 'ES' | 'EdDSA'; hash: HashName }> = {
  HS256: { kind: 'HS', hash: 'SHA-256' },
  HS384: { kind: 'HS', hash: 'SHA-384' },
  HS512: { kind: 'HS', hash: 'SHA-512' },
  RS256: { kind: 'RS', hash: 'SHA-256' },
  RS384: { kind: 'RS', hash: 'SHA-384' },
  RS512: { kind: 'RS', hash: 'SHA-512' },
  PS256: { kind: 'PS', hash: 'SHA-256' },
  PS384: { kind: 'PS', hash: 'SHA-384' },
  PS512: { kind: 'PS', hash: 'SHA-512' },
  ES256: { kind: 'ES', hash: 'SHA-256' },
  ES384: { kind: 'ES', hash: 'SHA-384' },
  ES512: { kind: 'ES', hash: 'SHA-512' },
  EdDSA: { kind: 'EdDSA', hash: 'SHA-512' },
};

/** Verifies a signature with one key. */
function verifyWith(alg: string, key: Key, input: Uint8Array, sig: Uint8Array): boolean {
  const a = ALGS[alg];
  if (!a) return false;
  switch (a.kind) {
    case 'HS':
      return key.kty === 'oct' && timingSafeEqual(hmac(HASHES[a.hash], key.k, input), sig);
    case 'RS':
      return key.kty === 'RSA' && rsaVerifyPKCS1(key, input, sig, a.hash);
    case 'PS':
      return key.kty === 'RSA' && rsaVerifyPSS(key, input, sig, a.hash);
    case 'ES':
      return key.kty === 'EC' && ecVerify(key, input, sig);
    case 'EdDSA':
      return key.kty === 'OKP' && edVerify(key, input, sig);
  }
}

function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

function keysFrom(name: string, text: string): Key[] {
  try {
    return parseKeys(text);
  } catch (e) {
    if (e instanceof KeyError) throw builtinError(name, e.message);
    throw e;
  }
}

/** io.jwt.verify_<alg>(token, certificate or secret). */
function verifier(alg: string): BuiltinDef {
  const name = `io.jwt.verify_${alg.toLowerCase()}`;
  return def(name, 2, (a) => {
    const token = str(name, a, 0);
    const keyText = str(name, a, 1);
    const parts = token.split('.');
    if (parts.length !== 3) {
      if (parts.length === 1) throw builtinError(name, 'encoded JWT had no period separators');
      throw builtinError(name, `encoded JWT must have 3 sections, found ${parts.length}`);
    }
    const sig = b64urlBytes(name, parts[2]!);
    const input = enc.encode(`${parts[0]}.${parts[1]}`);
    const keys: Key[] = ALGS[alg]!.kind === 'HS' ? [{ kty: 'oct', k: enc.encode(keyText) }] : keysFrom(name, keyText);
    return keys.some((k) => verifyWith(alg, k, input, sig));
  });
}

const CONSTRAINTS = new Set(['cert', 'secret', 'alg', 'iss', 'aud', 'time']);

/** io.jwt.decode_verify(token, constraints) → [valid, header, payload]. */
function decodeVerify(a: Value[], ctx: BuiltinContext): Value {
  const name = 'io.jwt.decode_verify';
  const token = str(name, a, 0);
  const c = obj(name, a, 1);
  for (const k of c.keys())
    if (typeof k !== 'string' || !CONSTRAINTS.has(k))
      throw builtinError(name, `unknown token validation constraint: ${typeof k === 'string' ? k : jsonText(k)}`);
  const invalid: Value = [false, new RObject(), new RObject()];
  const cert = c.get('cert');
  const secret = c.get('secret');
  if ((cert === undefined) === (secret === undefined)) throw builtinError(name, 'exactly one of cert or secret must be given');
  const d = decode(name, token);
  const alg = d.header.get('alg');
  if (typeof alg !== 'string') return invalid;
  // Critical header extensions this implementation does not understand make the token invalid.
  if (d.header.has('crit')) return invalid;
  const wantAlg = c.get('alg');
  if (wantAlg !== undefined && wantAlg !== alg) return invalid;
  let keys: Key[];
  if (secret !== undefined) {
    if (typeof secret !== 'string') throw builtinError(name, 'secret must be a string');
    keys = [{ kty: 'oct', k: enc.encode(secret) }];
  } else {
    if (typeof cert !== 'string') throw builtinError(name, 'cert must be a string');
    keys = keysFrom(name, cert);
  }
  const input = enc.encode(d.signingInput);
  if (!keys.some((k) => verifyWith(alg, k, input, d.signature))) return invalid;
  const payload = d.payload;
  if (!(payload instanceof RObject)) return invalid;
  const t = c.get('time');
  const needsClock = payload.has('exp') || payload.has('nbf');
  let nowNs: number | undefined;
  if (typeof t === 'number' || typeof t === 'bigint') nowNs = Number(t);
  else if (needsClock) {
    if (ctx.context.nowNs === undefined) throw builtinError(name, 'no clock in the evaluation context (pass context.nowNs or a time constraint)');
    nowNs = Number(ctx.context.nowNs);
  }
  const exp = payload.get('exp');
  if (exp !== undefined) {
    if (typeof exp !== 'number' && typeof exp !== 'bigint') throw builtinError(name, 'exp value must be a number');
    if (nowNs! / 1e9 >= Number(exp)) return invalid;
  }
  const nbf = payload.get('nbf');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number' && typeof nbf !== 'bigint') throw builtinError(name, 'nbf value must be a number');
    if (nowNs! / 1e9 < Number(nbf)) return invalid;
  }
  const iss = c.get('iss');
  if (iss !== undefined && !equal(payload.get('iss') ?? null, iss)) return invalid;
  const aud = c.get('aud');
  const pAud = payload.get('aud');
  if (pAud !== undefined) {
    if (aud === undefined) return invalid;
    const list = Array.isArray(pAud) ? pAud : pAud instanceof RSet ? pAud.values() : [pAud];
    if (!list.some((x) => equal(x, aud))) return invalid;
  } else if (aud !== undefined) return invalid;
  return [true, d.header, payload];
}

/** Signs `headerText.payloadText` with a JWK. */
function sign(name: string, headerText: string, payloadText: string, keyValue: Value): string {
  if (headerText === '') throw builtinError(name, `missing or invalid 'alg' header: cannot parse JSON: cannot parse empty string`);
  let header: Value = null;
  try {
    header = parseJSON(headerText);
  } catch {
    // reported as a missing alg below, like OPA
  }
  const alg = header instanceof RObject ? header.get('alg') : undefined;
  if (typeof alg !== 'string') throw builtinError(name, `missing or invalid 'alg' header: jwsbb: header "alg" not found`);
  if (!ALGS[alg]) throw builtinError(name, `unknown signature algorithm ${alg}`);
  const typ = (header as RObject).get('typ');
  if (typ === 'JWT') {
    try {
      parseJSON(payloadText);
    } catch {
      throw builtinError(name, 'type is JWT but payload is not JSON');
    }
  }
  let key: Key;
  try {
    key = jwk(keyValue);
  } catch (e) {
    throw builtinError(name, (e as Error).message);
  }
  const input = `${base64Encode(enc.encode(headerText), true, false)}.${base64Encode(enc.encode(payloadText), true, false)}`;
  const msg = enc.encode(input);
  const a = ALGS[alg]!;
  let sig: Uint8Array;
  if (a.kind === 'HS' && key.kty === 'oct') sig = hmac(HASHES[a.hash], key.k, msg);
  else if (a.kind === 'RS' && key.kty === 'RSA') sig = rsaSignPKCS1(key, msg, a.hash);
  else if (a.kind === 'ES' && key.kty === 'EC' && key.d) sig = CURVES[key.crv].sign(msg, key.d, { lowS: false });
  else if (a.kind === 'EdDSA' && key.kty === 'OKP' && key.d) sig = ed25519.sign(msg, key.d);
  else throw builtinError(name, `key does not support algorithm ${alg}`);
  return `${input}.${base64Encode(sig, true, false)}`;
}

function jsonKey(name: string, text: string): Value {
  try {
    return parseJSON(text);
  } catch {
    throw builtinError(name, 'failed to parse JWK');
  }
}

/** Registry entries of this family. */
export const jwtBuiltins: BuiltinDef[] = [
  def('io.jwt.decode', 1, (a) => {
    const d = decode('io.jwt.decode', str('io.jwt.decode', a, 0));
    return [d.header, d.payload, toHex(d.signature)];
  }),
  def('io.jwt.decode_verify', 2, decodeVerify),
  ...Object.keys(ALGS).map(verifier),
  def('io.jwt.encode_sign', 3, (a) => {
    const name = 'io.jwt.encode_sign';
    return sign(name, jsonText(obj(name, a, 0)), jsonText(obj(name, a, 1)), obj(name, a, 2));
  }),
  def('io.jwt.encode_sign_raw', 3, (a) => {
    const name = 'io.jwt.encode_sign_raw';
    return sign(name, str(name, a, 0), str(name, a, 1), jsonKey(name, str(name, a, 2)));
  }),
];
