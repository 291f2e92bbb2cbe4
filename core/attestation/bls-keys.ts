/**
 * BLS12-381 operator keys ("minimal-pubkey-size" variant: public keys in G1, signatures in G2),
 * IETF KeyGen, and proofs of possession per draft-irtf-cfrg-bls-signature-05 (POP ciphersuite).
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToNumberBE, concatBytes, equalBytes, numberToBytesBE } from '@noble/curves/utils.js';
import { BlsKeyError } from './errors';

/** Domain separation tag of proofs of possession (signatures over the compressed public key). */
export const POP_DST = 'BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_';

/** A decoded G1 public-key point. */
export type G1Point = WeierstrassPoint<bigint>;

const sigs = bls12_381.longSignatures;
const G1 = bls12_381.G1.Point;
const CURVE_ORDER = G1.Fn.ORDER;
const KEYGEN_SALT = new TextEncoder().encode('BLS-SIG-KEYGEN-SALT-');
const KEYGEN_OKM_LENGTH = 48;

/** An operator key pair: 32-byte big-endian secret scalar and 48-byte compressed G1 public key. */
export type BlsKeyPair = { secretKey: Uint8Array; publicKey: Uint8Array };

/**
 * IETF KeyGen (HKDF-SHA256, salt "BLS-SIG-KEYGEN-SALT-", same as EIP-2333's HKDF_mod_r):
 * derives a secret key from at least 32 bytes of secret input keying material.
 */
export function deriveSecretKey(ikm: Uint8Array, keyInfo: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (!(ikm instanceof Uint8Array) || ikm.length < 32) {
    throw new BlsKeyError('invalid_key_material', 'KeyGen needs at least 32 bytes of key material');
  }
  const ikmZero = concatBytes(ikm, Uint8Array.of(0));
  const info = concatBytes(keyInfo, Uint8Array.of(0, KEYGEN_OKM_LENGTH));
  let salt: Uint8Array = KEYGEN_SALT;
  for (;;) {
    salt = sha256(salt);
    const okm = expand(sha256, extract(sha256, ikmZero, salt), info, KEYGEN_OKM_LENGTH);
    const scalar = bytesToNumberBE(okm) % CURVE_ORDER;
    // A zero scalar has probability ~2^-255; the spec retries with a re-hashed salt.
    if (scalar !== 0n) return numberToBytesBE(scalar, 32);
  }
}

/** Derives a full key pair from at least 32 bytes of secret input keying material. */
export function generateKeyPair(ikm: Uint8Array): BlsKeyPair {
  const secretKey = deriveSecretKey(ikm);
  return { secretKey, publicKey: getPublicKey(secretKey) };
}

/** Returns the 48-byte compressed G1 public key of a 32-byte secret key. */
export function getPublicKey(secretKey: Uint8Array): Uint8Array {
  return G1.BASE.multiply(secretScalar(secretKey)).toBytes(true);
}

/**
 * Decodes a 48-byte compressed public key, refusing non-canonical encodings, points off the
 * curve or outside the prime-order subgroup, and the identity (KeyValidate in the IETF draft).
 */
export function decodePublicKey(publicKey: Uint8Array): G1Point {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 48) {
    throw new BlsKeyError('invalid_public_key', 'public key must be 48 compressed bytes');
  }
  let point: G1Point;
  try {
    point = G1.fromBytes(publicKey);
    point.assertValidity();
  } catch (cause) {
    throw new BlsKeyError('invalid_public_key', 'public key is not a valid G1 point', { cause });
  }
  if (point.is0()) throw new BlsKeyError('invalid_public_key', 'public key is the identity');
  // Only the one canonical encoding of a key is accepted, whatever the decoder tolerates.
  if (!equalBytes(point.toBytes(true), publicKey)) {
    throw new BlsKeyError('invalid_public_key', 'public key encoding is not canonical');
  }
  return point;
}

/** PopProve: signs the compressed public key under POP_DST, returning a 96-byte G2 signature. */
export function createProofOfPossession(secretKey: Uint8Array): Uint8Array {
  const scalar = secretScalar(secretKey);
  const publicKey = G1.BASE.multiply(scalar).toBytes(true);
  return sigs.hash(publicKey, POP_DST).multiply(scalar).toBytes(true);
}

/** PopVerify: true only if `proof` is a valid POP_DST signature of `publicKey` by its own key. */
export function verifyProofOfPossession(publicKey: Uint8Array, proof: Uint8Array): boolean {
  try {
    const point = decodePublicKey(publicKey);
    const signature = sigs.Signature.fromBytes(proof);
    if (signature.is0()) return false;
    return sigs.verify(signature, sigs.hash(publicKey, POP_DST), point);
  } catch {
    return false;
  }
}

/** Parses a 32-byte big-endian secret key, refusing 0 and values >= the group order. */
export function secretScalar(secretKey: Uint8Array): bigint {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    throw new BlsKeyError('invalid_secret_key', 'secret key must be 32 bytes');
  }
  const scalar = bytesToNumberBE(secretKey);
  if (scalar === 0n || scalar >= CURVE_ORDER) {
    throw new BlsKeyError('invalid_secret_key', 'secret key must be in [1, r)');
  }
  return scalar;
}
