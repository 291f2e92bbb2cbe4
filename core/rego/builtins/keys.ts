/**
 * Public/private key material for JWT verification and signing: PEM (certificates, SPKI,
 * PKCS#1), JWK/JWKS, minimal DER parsing, and RSA (PKCS#1 v1.5 and PSS) with BigInt arithmetic.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import type { CHash } from '@noble/hashes/utils.js';
import { parseJSON } from '../json';
import { RObject } from '../value';
import type { Value } from '../value';
import { DerError, children, derInt, oid, readTLV } from './der';
import type { TLV } from './der';
import { base64Decode } from './encoding';

/** WebCrypto hash names the JWS and x509 algorithms map to. */
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';
/** NIST curves of ECDSA keys (WebCrypto names). */
export type EcCurve = 'P-256' | 'P-384' | 'P-521';

/** A verification key. Private RSA keys carry `d`. */
export type Key =
  | { kty: 'RSA'; n: bigint; e: bigint; d?: bigint; kid?: string }
  | { kty: 'EC'; crv: EcCurve; point: Uint8Array; d?: Uint8Array; kid?: string }
  | { kty: 'OKP'; pub: Uint8Array; d?: Uint8Array; kid?: string }
  | { kty: 'oct'; k: Uint8Array; kid?: string };

/** Key material that could not be parsed; the message is OPA's. */
export class KeyError extends DerError {
  override name = 'KeyError';
}

/** Hash functions by JOSE name. */
export const HASHES: Record<HashName, CHash> = { 'SHA-256': sha256, 'SHA-384': sha384, 'SHA-512': sha512 };
/** ECDSA curves by JOSE name. */
export const CURVES = { 'P-256': p256, 'P-384': p384, 'P-521': p521 } as const;

const EC_CURVES: Record<string, EcCurve> = { '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521' };

/** Parses a SubjectPublicKeyInfo. */
function spki(t: TLV): Key {
  const [alg, bits] = children(t);
  if (!alg || !bits || bits.tag !== 0x03) throw new KeyError('malformed public key');
  const [algOid, params] = children(alg);
  const id = oid(algOid);
  const keyBytes = bits.body.subarray(1);
  if (id === '1.2.840.113549.1.1.1' || id === '1.2.840.113549.1.1.10') return rsaPublic(readTLV(keyBytes, 0));
  if (id === '1.2.840.10045.2.1') {
    const crv = EC_CURVES[oid(params)];
    if (!crv) throw new KeyError('unsupported elliptic curve');
    return { kty: 'EC', crv, point: keyBytes };
  }
  if (id === '1.3.101.112') return { kty: 'OKP', pub: keyBytes };
  throw new KeyError(`unsupported public key algorithm ${id}`);
}

function rsaPublic(t: TLV): Key {
  const [n, e] = children(t);
  return { kty: 'RSA', n: derInt(n), e: derInt(e) };
}

/** Extracts the public key of a DER X.509 certificate. */
function certificateKey(der: Uint8Array): Key {
  const cert = readTLV(der, 0);
  const [tbs] = children(cert);
  if (!tbs) throw new KeyError('x509: malformed certificate');
  const fields = children(tbs);
  const start = fields[0]?.tag === 0xa0 ? 1 : 0;
  const pk = fields[start + 5];
  if (!pk) throw new KeyError('x509: malformed certificate');
  return spki(pk);
}

/** One PEM block: its label (`CERTIFICATE`, `PUBLIC KEY`, ...) and the DER bytes it armours. */
export type PemBlock = { type: string; der: Uint8Array };

/** Splits PEM text into blocks. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const der = base64Decode(m[2]!.replace(/\s+/g, ''), false, true);
    if (!der) throw new KeyError('failed to parse a PEM certificate');
    out.push({ type: m[1]!, der });
  }
  return out;
}

/** Keys from a PEM string (certificates, public keys) or a JWK / JWK set JSON string. */
export function parseKeys(text: string): Key[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let v: Value;
    try {
      v = parseJSON(trimmed);
    } catch {
      throw new KeyError('failed to parse a JWK key (set)');
    }
    if (!(v instanceof RObject)) throw new KeyError('failed to parse a JWK key (set)');
    const keys = v.get('keys');
    if (Array.isArray(keys)) return keys.map((k) => jwk(k));
    return [jwk(v)];
  }
  const blocks = pemBlocks(trimmed);
  if (!blocks.length) throw new KeyError('failed to extract a Key from the PEM certificate');
  if (!/-----END [A-Z0-9 ]+-----$/.test(trimmed)) throw new KeyError('extra data after a PEM certificate block');
  return blocks.map((b) => {
    if (b.type === 'CERTIFICATE') {
      try {
        return certificateKey(b.der);
      } catch (e) {
        throw new KeyError(e instanceof KeyError && e.message.startsWith('x509') ? e.message : 'failed to parse a PEM certificate');
      }
    }
    if (b.type === 'PUBLIC KEY') return spki(readTLV(b.der, 0));
    if (b.type === 'RSA PUBLIC KEY') return rsaPublic(readTLV(b.der, 0));
    throw new KeyError('failed to extract a Key from the PEM certificate');
  });
}

function b64url(v: Value | undefined): Uint8Array {
  if (typeof v !== 'string') throw new KeyError('failed to parse a JWK key (set)');
  const b = base64Decode(v.replace(/=+$/, ''), true, false);
  if (!b) throw new KeyError('failed to parse a JWK key (set)');
  return b;
}

function big(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

/** Parses one JWK object. */
export function jwk(v: Value): Key {
  if (!(v instanceof RObject)) throw new KeyError('failed to parse a JWK key (set)');
  const kty = v.get('kty');
  const kidV = v.get('kid');
  const kid = typeof kidV === 'string' ? { kid: kidV } : {};
  if (kty === 'RSA') {
    const d = v.get('d');
    return { kty: 'RSA', n: big(b64url(v.get('n'))), e: big(b64url(v.get('e'))), ...(d !== undefined ? { d: big(b64url(d)) } : {}), ...kid };
  }
  if (kty === 'EC') {
    const crv = v.get('crv');
    if (crv !== 'P-256' && crv !== 'P-384' && crv !== 'P-521') throw new KeyError('failed to parse a JWK key (set)');
    const x = b64url(v.get('x'));
    const y = b64url(v.get('y'));
    const point = new Uint8Array(1 + x.length + y.length);
    point[0] = 4;
    point.set(x, 1);
    point.set(y, 1 + x.length);
    const d = v.get('d');
    return { kty: 'EC', crv, point, ...(d !== undefined ? { d: b64url(d) } : {}), ...kid };
  }
  if (kty === 'OKP') {
    const d = v.get('d');
    return { kty: 'OKP', pub: b64url(v.get('x')), ...(d !== undefined ? { d: b64url(d) } : {}), ...kid };
  }
  if (kty === 'oct') return { kty: 'oct', k: b64url(v.get('k')), ...kid };
  throw new KeyError('failed to parse a JWK key (set)');
}

// ---- RSA ----

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

function toBytes(v: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const DIGEST_INFO: Record<HashName, string> = {
  'SHA-256': '3031300d060960864801650304020105000420',
  'SHA-384': '3041300d060960864801650304020205000430',
  'SHA-512': '3051300d060960864801650304020305000440',
};

function hexBytes(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g)!.map((x) => parseInt(x, 16)));
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/** EMSA-PKCS1-v1_5 encoding of a message. */
function pkcs1Encode(msg: Uint8Array, hash: HashName, k: number): Uint8Array {
  const t = new Uint8Array([...hexBytes(DIGEST_INFO[hash]), ...HASHES[hash](msg)]);
  const em = new Uint8Array(k);
  em[1] = 1;
  em.fill(0xff, 2, k - t.length - 1);
  em.set(t, k - t.length);
  return em;
}

/** RSASSA-PKCS1-v1_5 verification. */
export function rsaVerifyPKCS1(key: Key & { kty: 'RSA' }, msg: Uint8Array, sig: Uint8Array, hash: HashName): boolean {
  const k = Math.ceil(bitLength(key.n) / 8);
  if (sig.length !== k) return false;
  const m = modPow(big(sig), key.e, key.n);
  return eq(toBytes(m, k), pkcs1Encode(msg, hash, k));
}

/** RSASSA-PKCS1-v1_5 signing (deterministic). */
export function rsaSignPKCS1(key: Key & { kty: 'RSA' }, msg: Uint8Array, hash: HashName): Uint8Array {
  if (key.d === undefined) throw new KeyError('RSA private key required');
  const k = Math.ceil(bitLength(key.n) / 8);
  return toBytes(modPow(big(pkcs1Encode(msg, hash, k)), key.d, key.n), k);
}

function mgf1(seed: Uint8Array, len: number, hash: HashName): Uint8Array {
  const out = new Uint8Array(len);
  let off = 0;
  for (let c = 0; off < len; c++) {
    const h = HASHES[hash](new Uint8Array([...seed, (c >>> 24) & 255, (c >>> 16) & 255, (c >>> 8) & 255, c & 255]));
    out.set(h.subarray(0, Math.min(h.length, len - off)), off);
    off += h.length;
  }
  return out;
}

/** RSASSA-PSS verification with the salt length recovered from the encoding. */
export function rsaVerifyPSS(key: Key & { kty: 'RSA' }, msg: Uint8Array, sig: Uint8Array, hash: HashName): boolean {
  const modBits = bitLength(key.n);
  const k = Math.ceil(modBits / 8);
  if (sig.length !== k) return false;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const full = toBytes(modPow(big(sig), key.e, key.n), k);
  if (emLen < k && full[0] !== 0) return false;
  const em = full.subarray(k - emLen);
  const hLen = HASHES[hash].outputLen;
  if (em[emLen - 1] !== 0xbc || emLen < hLen + 2) return false;
  const maskedDB = em.subarray(0, emLen - hLen - 1);
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const zeroBits = 8 * emLen - emBits;
  if (maskedDB[0]! & (0xff << (8 - zeroBits)) & 0xff) return false;
  const db = mgf1(h, maskedDB.length, hash).map((x, i) => x ^ maskedDB[i]!);
  db[0]! &= 0xff >> zeroBits;
  let i = 0;
  while (i < db.length && db[i] === 0) i++;
  if (db[i] !== 1) return false;
  const salt = db.subarray(i + 1);
  const mPrime = new Uint8Array([...new Uint8Array(8), ...HASHES[hash](msg), ...salt]);
  return eq(HASHES[hash](mPrime), h);
}

/** ECDSA verification of a raw r||s JWT signature. */
export function ecVerify(key: Key & { kty: 'EC' }, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return CURVES[key.crv].verify(sig, msg, key.point, { lowS: false });
  } catch {
    return false;
  }
}

/** Ed25519 verification. */
export function edVerify(key: Key & { kty: 'OKP' }, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, msg, key.pub);
  } catch {
    return false;
  }
}
