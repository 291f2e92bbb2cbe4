import { isAddressEqual, recoverTypedDataAddress, type Address, type Hex } from 'viem';
import { decodeTensors, hashTensors, sha256Hex, tensorMapFromJson, type Tensor } from '../tensors';
import { receiptTypedData, type InferenceReceipt } from './inference-receipt';
import { isSha256Id } from '../hex';

/** Tensors as JSON (`{name: {type, dims, data}}`), as decoded tensors, or as their canonical encoding. */
export type TensorsLike = Uint8Array | Record<string, Tensor> | Record<string, unknown>;

/** What to check a receipt against; each check runs only when its option is given. */
export interface VerifyReceiptOptions {
  inputs?: TensorsLike;
  outputs?: TensorsLike;
  /** Backend addresses the verifier trusts; the signer must be one of them. */
  trustedBackends?: readonly Address[];
  /** Expected model hash, e.g. from the hub's listing of the named model version. */
  modelSha256?: Hex;
}

/** Outcome of verifyReceipt: `valid` only when every requested check passed; `reasons` are stable codes. */
export interface ReceiptVerification {
  valid: boolean;
  signer: Address | null;
  reasons: string[];
}

/**
 * Verifies a receipt offline: recovers the EIP-712 signer (it must be the receipt's backend), and
 * recomputes input/output hashes and checks the signer against trusted backends when asked to.
 */
export async function verifyReceipt(receipt: InferenceReceipt, options: VerifyReceiptOptions = {}): Promise<ReceiptVerification> {
  const reasons: string[] = [];
  let signer: Address | null = null;
  for (const key of ['requestId', 'modelSha256', 'inputHash', 'outputHash'] as const) {
    if (typeof receipt[key] !== 'string' || !isSha256Id(receipt[key])) reasons.push(`malformed_${key}`);
  }
  if (reasons.length === 0) {
    try {
      signer = await recoverTypedDataAddress({ ...receiptTypedData(receipt), signature: receipt.signature });
      if (!isAddressEqual(signer, receipt.backend)) reasons.push('signer_mismatch');
    } catch {
      reasons.push('invalid_signature');
    }
  }
  if (options.trustedBackends && !(signer && options.trustedBackends.some((a) => isAddressEqual(a, signer!)))) {
    reasons.push('untrusted_backend');
  }
  if (options.modelSha256 && options.modelSha256.toLowerCase() !== receipt.modelSha256) reasons.push('model_mismatch');
  if (options.inputs !== undefined && (await hashOf(options.inputs)) !== receipt.inputHash) reasons.push('input_hash_mismatch');
  if (options.outputs !== undefined && (await hashOf(options.outputs)) !== receipt.outputHash) reasons.push('output_hash_mismatch');
  return { valid: reasons.length === 0, signer, reasons };
}

async function hashOf(tensors: TensorsLike): Promise<Hex | 'invalid'> {
  try {
    if (tensors instanceof Uint8Array) {
      decodeTensors(tensors); // only canonical encodings have a hash
      return await sha256Hex(tensors);
    }
    const values = Object.values(tensors);
    const decoded = values.every((v) => (v as Tensor)?.data instanceof Uint8Array) ? (tensors as Record<string, Tensor>) : tensorMapFromJson(tensors);
    return await hashTensors(decoded);
  } catch {
    return 'invalid';
  }
}
