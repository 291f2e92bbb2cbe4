/**
 * BLS signatures over attestation digests (IETF POP ciphersuite, signatures in G2) and their
 * same-message aggregation. Aggregation is only sound for keys admitted with a proof of
 * possession (see bls-keys.ts and operator-registry.ts).
 */
import { bls12_381 } from '@noble/curves/bls12-381.js';
import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import type { Fp2 } from '@noble/curves/abstract/tower.js';
import { equalBytes } from '@noble/curves/utils.js';
import { decodePublicKey, secretScalar, type G1Point } from './bls-keys';
import { BlsKeyError, BlsSignatureError } from './errors';

/** Domain separation tag of message signatures (BLS_SIG_..._POP_ ciphersuite). */
export const SIGNATURE_DST = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_';

/** A decoded G2 signature or message point. */
export type G2Point = WeierstrassPoint<Fp2>;

const sigs = bls12_381.longSignatures;
const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;

/** hash_to_curve (RFC 9380, BLS12381G2_XMD:SHA-256_SSWU_RO_) of a message under SIGNATURE_DST. */
export function hashToSignatureCurve(message: Uint8Array): G2Point {
  return sigs.hash(message, SIGNATURE_DST);
}

/** Signs a message (for attestations: the 32 digest bytes); returns a 96-byte compressed G2 point. */
export function signMessage(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  return hashToSignatureCurve(message).multiply(secretScalar(secretKey)).toBytes(true);
}

/**
 * Decodes a 96-byte compressed signature, refusing non-canonical encodings, points off the
 * curve or outside the prime-order subgroup, and the identity.
 */
export function decodeSignature(signature: Uint8Array): G2Point {
  if (!(signature instanceof Uint8Array) || signature.length !== 96) {
    throw new BlsSignatureError('invalid_signature_encoding', 'signature must be 96 compressed bytes');
  }
  let point: G2Point;
  try {
    point = sigs.Signature.fromBytes(signature);
  } catch (cause) {
    throw new BlsSignatureError('invalid_signature_encoding', 'signature is not a valid G2 point', { cause });
  }
  if (point.is0()) throw new BlsSignatureError('invalid_signature_encoding', 'signature is the identity');
  // Only the one canonical encoding of a signature is accepted, whatever the decoder tolerates.
  if (!equalBytes(point.toBytes(true), signature)) {
    throw new BlsSignatureError('invalid_signature_encoding', 'signature encoding is not canonical');
  }
  return point;
}

/** Verifies one (possibly aggregate) signature over a message; malformed inputs yield false. */
export function verifySignature(publicKey: Uint8Array | G1Point, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    const key = publicKey instanceof Uint8Array ? decodePublicKey(publicKey) : publicKey;
    // An identity aggregate key (e.g. pk + (-pk)) pairs to 1 with anything; never accept it.
    if (key.is0()) return false;
    return sigs.verify(decodeSignature(signature), hashToSignatureCurve(message), key);
  } catch {
    return false;
  }
}

/** Sums signatures on the same message into one 96-byte aggregate signature. */
export function aggregateSignatures(signatures: readonly Uint8Array[]): Uint8Array {
  if (signatures.length === 0) throw new BlsSignatureError('empty_aggregate', 'no signatures to aggregate');
  const sum = signatures.map(decodeSignature).reduce((acc, point) => acc.add(point), G2.ZERO);
  if (sum.is0()) throw new BlsSignatureError('empty_aggregate', 'aggregate signature is the identity');
  return sum.toBytes(true);
}

/**
 * Sums public keys into the aggregate key for same-message verification. Only sound when every
 * key was admitted with a valid proof of possession; returns the point to skip re-decoding.
 */
export function aggregatePublicKeys(publicKeys: readonly (Uint8Array | G1Point)[]): G1Point {
  if (publicKeys.length === 0) throw new BlsKeyError('invalid_public_key', 'no public keys to aggregate');
  return publicKeys.map((key) => (key instanceof Uint8Array ? decodePublicKey(key) : key)).reduce((acc, point) => acc.add(point), G1.ZERO);
}
