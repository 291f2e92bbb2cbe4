/**
 * The BLS operations a verifier performs on operators' signatures, behind one interface so a
 * runtime can bring a faster implementation (the Worker and its Durable Objects use the WebAssembly
 * build in bls-wasm/, with decoded registry keys cached) while this library stays Web-APIs-only with
 * @noble/curves as its own implementation.
 */
import { hexToBytes, type Hex } from 'viem';
import { decodePublicKey, type G1Point } from './bls-keys';
import { aggregatePublicKeys, aggregateSignatures, verifySignature } from './bls-signatures';

/** Verifies and aggregates BLS signatures (POP ciphersuite, keys in G1, signatures in G2). */
export interface BlsVerifier {
  /**
   * FastAggregateVerify: true when `signature` is the aggregate of the keys' signatures over
   * `message` (one key: a plain signature). Malformed signatures yield false; a key that is not a
   * valid registered key throws BlsKeyError('invalid_public_key').
   */
  verifyAggregate(publicKeys: readonly Hex[], message: Uint8Array, signature: Uint8Array): boolean;
  /** Sums signatures on one message into a 96-byte aggregate; throws BlsSignatureError on a bad one. */
  aggregateSignatures(signatures: readonly Uint8Array[]): Uint8Array;
}

/** Most decoded keys the default verifier keeps (oldest dropped first). */
const MAX_CACHED_KEYS = 1024;
const decodedKeys = new Map<string, G1Point>();

// Keys are immutable: a key decoded (decompressed and subgroup-checked) once serves every later check.
function decodedKey(key: Hex): G1Point {
  const id = key.toLowerCase();
  let point = decodedKeys.get(id);
  if (point === undefined) {
    point = decodePublicKey(hexToBytes(key));
    decodedKeys.set(id, point);
    if (decodedKeys.size > MAX_CACHED_KEYS) decodedKeys.delete(decodedKeys.keys().next().value!);
  }
  return point;
}

/** The library's own implementation (@noble/curves), with decoded keys cached. */
export const nobleBlsVerifier: BlsVerifier = {
  verifyAggregate(publicKeys, message, signature) {
    if (publicKeys.length === 0) return false;
    return verifySignature(aggregatePublicKeys(publicKeys.map(decodedKey)), message, signature);
  },
  aggregateSignatures: (signatures) => aggregateSignatures(signatures),
};
