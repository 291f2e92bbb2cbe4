/**
 * core/attestation's BlsVerifier on the WebAssembly build, with decoded public keys cached: a
 * registry key is decompressed and subgroup-checked once per instance, then every verification
 * sums cached points. Keys are immutable and a snapshot's keys are its operators' keys, so caching
 * by key bytes serves every registry snapshot that holds the key.
 */
import { hexToBytes, type Hex } from 'viem';
import type { BlsVerifier } from '../core/attestation/bls-verifier';
import type { PublicKeyHandle, WasmBls } from './wasm-bls';

/** Options of createCachedBlsVerifier. */
export interface CachedBlsVerifierOptions {
  /** Most decoded keys kept (oldest dropped first); default 4096. */
  maxKeys?: number;
}

/** A BlsVerifier on `bls` that decodes each distinct public key once. */
export function createCachedBlsVerifier(bls: WasmBls, options: CachedBlsVerifierOptions = {}): BlsVerifier {
  const maxKeys = options.maxKeys ?? 4096;
  const handles = new Map<string, PublicKeyHandle>();
  const handleOf = (key: Hex): PublicKeyHandle => {
    const id = key.toLowerCase();
    let handle = handles.get(id);
    if (handle === undefined) {
      // Throws BlsKeyError('invalid_public_key') for a key that is not a canonical subgroup point.
      handle = bls.deserializePublicKey(hexToBytes(key));
      handles.set(id, handle);
      if (handles.size > maxKeys) handles.delete(handles.keys().next().value!);
    }
    return handle;
  };
  return {
    verifyAggregate(publicKeys, message, signature) {
      if (publicKeys.length === 0) return false;
      return bls.verifyAggregate(publicKeys.map(handleOf), message, signature);
    },
    aggregateSignatures: (signatures) => bls.aggregateSignatures(signatures),
  };
}
