import { isAddress, isAddressEqual, type Address, type Hex } from 'viem';
import { decodeTensors, hashTensors, sha256Hex, tensorMapFromJson, type Tensor } from '../tensors';
import { isReceiptV2, type InferenceReceipt, type ReceiptFieldsV2 } from './inference-receipt';
import { isPriceTerms, isUint256Decimal, receiptCharge } from './receipt-charge';
import { receiptDigest } from './receipt-digest';
import { parseCanonicalSignature, recoverSigner } from './receipt-signature';
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
 * Verifies a receipt offline, of either version: recovers the EIP-712 signer (it must be the
 * receipt's backend; the signature must be canonical: 65 bytes, low s, v = 27 or 28), checks that a
 * version 2 receipt's `charged` is its pricing terms applied to its `runMs` (`charge_mismatch`), and
 * recomputes input/output hashes and checks the signer against trusted backends when asked to.
 */
export async function verifyReceipt(receipt: InferenceReceipt, options: VerifyReceiptOptions = {}): Promise<ReceiptVerification> {
  const reasons: string[] = [];
  let signer: Address | null = null;
  for (const key of ['requestId', 'modelSha256', 'inputHash', 'outputHash'] as const) {
    if (typeof receipt[key] !== 'string' || !isSha256Id(receipt[key])) reasons.push(`malformed_${key}`);
  }
  if (typeof receipt.backend !== 'string' || !isAddress(receipt.backend, { strict: false })) reasons.push('malformed_backend');
  if (typeof receipt.executionProvider !== 'string' || !Number.isSafeInteger(receipt.issuedAt) || receipt.issuedAt < 0)
    reasons.push('malformed_fields');
  if (isReceiptV2(receipt)) {
    if (!wellFormedV2(receipt)) reasons.push('malformed_fields');
    else if (receiptCharge(receipt, receipt.runMs) !== receipt.charged) reasons.push('charge_mismatch');
  }
  // A wrong charge is still checked for its signer: a backend that signed it is named.
  if (!reasons.some((r) => r !== 'charge_mismatch')) {
    if (/^0x[0-9a-fA-F]{130}$/.test(String(receipt.signature)) && !parseCanonicalSignature(receipt.signature)) {
      reasons.push('non_canonical_signature');
    } else {
      try {
        signer = recoverSigner(receiptDigest(receipt), receipt.signature);
      } catch {
        signer = null; // a field that does not encode (e.g. a malformed address)
      }
      if (!signer) reasons.push('invalid_signature');
      else if (!isAddressEqual(signer, receipt.backend)) reasons.push('signer_mismatch');
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

// The version 2 fields have their EIP-712 types (amounts as uint256 decimals, a known scheme), so
// that the digest encodes them and a verifier never signs off on an amount it cannot read.
function wellFormedV2(r: ReceiptFieldsV2): boolean {
  return (
    isSha256Id(r.policyId) &&
    isSha256Id(r.paymentNonce) &&
    Number.isSafeInteger(r.runMs) &&
    r.runMs >= 0 &&
    isPriceTerms(r) &&
    isUint256Decimal(r.charged) &&
    ['', 'exact', 'upto'].includes(r.paymentScheme) &&
    typeof r.paymentNetwork === 'string' &&
    typeof r.paymentAsset === 'string' &&
    isAddress(r.paymentAsset, { strict: false }) &&
    typeof r.payer === 'string' &&
    isAddress(r.payer, { strict: false })
  );
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
