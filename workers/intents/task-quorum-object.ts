/**
 * The TaskQuorum Durable Object as the Worker exports it: the same object, verifying operators'
 * signatures and aggregating them with the WebAssembly BLS build (decoded registry keys cached per
 * isolate) instead of pure JavaScript. durable-objects/ stays free of the bundler's .wasm import.
 */
import { getWasmBlsVerifier } from '../../bls-wasm/worker';
import type { BlsVerifier } from '../../core/attestation';
import { TaskQuorum as TaskQuorumObject } from '../../durable-objects/task-quorum';

/** TaskQuorum with the WebAssembly BlsVerifier. */
export class TaskQuorum extends TaskQuorumObject {
  protected override blsVerifier(): Promise<BlsVerifier> {
    return getWasmBlsVerifier();
  }
}
