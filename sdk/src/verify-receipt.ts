import type { Address, Hex } from 'viem';
import { verifyReceipt as verifyReceiptCore, type InferenceReceipt, type ReceiptVerification } from '../../core/receipts';
import { tensorMapFromJson, type Tensor } from '../../core/tensors';
import { toTensors, type TensorInputs } from './tensors';

/** Tensors to check a receipt's hash against: canonical bytes, typed-array or byte tensors, or JSON tensors. */
export type TensorsToCheck = Uint8Array | TensorInputs | Record<string, unknown>;

/** What to check a receipt against; each check runs only when its option is given. */
export interface VerifyReceiptOptions {
  /** The inputs the call sent: their canonical hash must be the receipt's inputHash. */
  inputs?: TensorsToCheck;
  /** The outputs the call returned: their canonical hash must be the receipt's outputHash. */
  outputs?: TensorsToCheck;
  /** Backends the verifier trusts (e.g. the gateway's registered ones): the signer must be one. */
  trustedBackends?: readonly Address[];
  /** The model hash the verifier expects (the hub's sha256 of the named version). */
  modelSha256?: Hex;
}

export type { InferenceReceipt, ReceiptVerification };

/**
 * Verifies a receipt offline: the EIP-712 signature must recover to the receipt's backend, and,
 * when given, the signer must be trusted and the inputs, outputs and model must hash as signed.
 * Never throws for a bad receipt: `{valid: false, reasons}` says why (stable codes).
 */
export async function verifyReceipt(receipt: InferenceReceipt, options: VerifyReceiptOptions = {}): Promise<ReceiptVerification> {
  if (typeof receipt !== 'object' || receipt === null) return { valid: false, signer: null, reasons: ['malformed_receipt'] };
  const inputs = normalize(options.inputs);
  const outputs = normalize(options.outputs);
  return verifyReceiptCore(receipt, {
    ...(inputs !== undefined ? { inputs } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
    ...(options.trustedBackends ? { trustedBackends: options.trustedBackends } : {}),
    ...(options.modelSha256 ? { modelSha256: options.modelSha256 } : {}),
  });
}

// Core hashes canonical bytes, byte tensors or JSON tensors; typed arrays are turned into byte
// tensors here. Anything malformed becomes a value core reports as a hash mismatch.
function normalize(tensors: TensorsToCheck | undefined): Uint8Array | Record<string, Tensor> | Record<string, unknown> | undefined {
  if (tensors === undefined || tensors instanceof Uint8Array) return tensors;
  try {
    const values = Object.values(tensors);
    if (values.every((v) => Array.isArray((v as { data?: unknown })?.data))) return tensorMapFromJson(tensors);
    return toTensors(tensors as TensorInputs);
  } catch {
    return new Uint8Array([0xff]); // not a tensor encoding: hashes to "invalid" in core, a mismatch
  }
}
