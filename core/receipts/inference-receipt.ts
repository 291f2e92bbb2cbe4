import type { Address, Hex } from 'viem';

/** EIP-712 domain of every Proofgate receipt (no chain: receipts are not bound to a chain). */
export const RECEIPT_DOMAIN = { name: 'Proofgate', version: '1' } as const;

/** EIP-712 types of the signed part of an inference receipt. */
export const RECEIPT_TYPES = {
  InferenceReceipt: [
    { name: 'requestId', type: 'bytes32' },
    { name: 'modelSha256', type: 'bytes32' },
    { name: 'inputHash', type: 'bytes32' },
    { name: 'outputHash', type: 'bytes32' },
    { name: 'backend', type: 'address' },
    { name: 'executionProvider', type: 'string' },
    { name: 'issuedAt', type: 'uint64' },
  ],
} as const;

/** The fields a backend signs. `issuedAt` is unix seconds. */
export interface ReceiptFields {
  requestId: Hex;
  modelSha256: Hex;
  inputHash: Hex;
  outputHash: Hex;
  backend: Address;
  executionProvider: string;
  issuedAt: number;
}

/** Backend-side durations in milliseconds: waiting for the model session, running it, and in all. */
export interface ReceiptTimings {
  queueMs: number;
  runMs: number;
  totalMs: number;
}

/** A signed inference receipt as the API returns it; model, version and timings are unsigned labels. */
export interface InferenceReceipt extends ReceiptFields {
  model: string;
  version: number;
  timings: ReceiptTimings;
  signature: Hex;
}

/** The EIP-712 typed-data object of a receipt, ready for viem's signTypedData / recoverTypedDataAddress. */
export function receiptTypedData(fields: ReceiptFields) {
  return {
    domain: RECEIPT_DOMAIN,
    types: RECEIPT_TYPES,
    primaryType: 'InferenceReceipt',
    message: {
      requestId: fields.requestId,
      modelSha256: fields.modelSha256,
      inputHash: fields.inputHash,
      outputHash: fields.outputHash,
      backend: fields.backend,
      executionProvider: fields.executionProvider,
      issuedAt: BigInt(fields.issuedAt),
    },
  } as const;
}
