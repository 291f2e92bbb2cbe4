/**
 * The InferenceQuorum Durable Object as the Worker exports it: the same object, verifying operators'
 * signatures and aggregating them with the WebAssembly BLS build (decoded registry keys cached per
 * isolate), as the Worker's TaskQuorum does. durable-objects/ stays free of the bundler's .wasm import.
 */
import { getWasmBlsVerifier } from '../../../bls-wasm/worker';
import type { BlsVerifier } from '../../../core/attestation';
import { InferenceQuorum as InferenceQuorumObject } from '../../../durable-objects/inference-quorum';

/** InferenceQuorum with the WebAssembly BlsVerifier. */
export class InferenceQuorum extends InferenceQuorumObject {
  protected override blsVerifier(): Promise<BlsVerifier> {
    return getWasmBlsVerifier();
  }
}
