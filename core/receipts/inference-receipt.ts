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

/**
 * EIP-712 types of version 2 of the receipt (same domain): version 1's fields, then the admission
 * policy that admitted the call, the run time this call is billed for, the pricing terms, what was
 * charged, and the payment's identity, so one signature covers policy, model, input, output and charge.
 */
export const RECEIPT_TYPES_V2 = {
  InferenceReceiptV2: [
    ...RECEIPT_TYPES.InferenceReceipt,
    { name: 'policyId', type: 'bytes32' },
    { name: 'runMs', type: 'uint64' },
    { name: 'priceBase', type: 'uint256' },
    { name: 'pricePerMs', type: 'uint256' },
    { name: 'priceCap', type: 'uint256' },
    { name: 'charged', type: 'uint256' },
    { name: 'paymentScheme', type: 'string' },
    { name: 'paymentNetwork', type: 'string' },
    { name: 'paymentAsset', type: 'address' },
    { name: 'payer', type: 'address' },
    { name: 'paymentNonce', type: 'bytes32' },
  ],
} as const;

/** The EIP-712 type string of a version 2 receipt (what its type hash is the keccak256 of). */
export const RECEIPT_V2_TYPE =
  'InferenceReceiptV2(bytes32 requestId,bytes32 modelSha256,bytes32 inputHash,bytes32 outputHash,address backend,string executionProvider,uint64 issuedAt,bytes32 policyId,uint64 runMs,uint256 priceBase,uint256 pricePerMs,uint256 priceCap,uint256 charged,string paymentScheme,string paymentNetwork,address paymentAsset,address payer,bytes32 paymentNonce)';

/** bytes32 zero: the `policyId` of a call no policy admitted, the `paymentNonce` of an unpaid call. */
export const ZERO_BYTES32: Hex = `0x${'00'.repeat(32)}`;
/** The zero address: the `paymentAsset` and `payer` of an unpaid call. */
export const ZERO_ADDRESS: Address = '0x0000000000000000000000000000000000000000';

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

/**
 * How a call is priced (atomic units of the payment asset, decimal strings): it is charged
 * `min(priceCap, priceBase + pricePerMs × runMs)`. A fixed price P is `{P, 0, P}`; a free call `{0, 0, 0}`.
 */
export interface PriceTerms {
  priceBase: string;
  pricePerMs: string;
  priceCap: string;
}

/**
 * Who paid for a call and how: the x402 scheme (`exact`, `upto`; "" when unpaid), the CAIP-2
 * network, the asset, the payer, and the payment authorization's nonce (EIP-3009's bytes32 nonce,
 * or Permit2's uint256 nonce as 32 big-endian bytes). All zero when the call was not paid.
 */
export interface PaymentIdentity {
  paymentScheme: '' | 'exact' | 'upto';
  paymentNetwork: string;
  paymentAsset: Address;
  payer: Address;
  paymentNonce: Hex;
}

/** What the gateway states about a call before it runs (policy, pricing, payment): the backend signs it back in a v2 receipt. */
export interface RunTerms extends PriceTerms, PaymentIdentity {
  /** The admission policy that admitted the call (its id), bytes32 zero when the model has none. */
  policyId: Hex;
}

/** What a version 2 receipt adds to version 1's fields: the gateway's terms, the billed run time and the charge. */
export interface ReceiptChargeFields extends RunTerms {
  /** This call's run time in whole milliseconds, rounded up (its share of a batched run, see gpu-backend/run-scheduler.ts). */
  runMs: number;
  /** What the call is charged, decimal atomic units: the terms applied to `runMs` (receiptCharge). */
  charged: string;
}

/** The fields a backend signs in a version 2 receipt. */
export type ReceiptFieldsV2 = ReceiptFields & ReceiptChargeFields;

/** Backend-side durations in milliseconds: waiting for the model session, running it, and in all. */
export interface ReceiptTimings {
  queueMs: number;
  runMs: number;
  totalMs: number;
}

/**
 * A signed inference receipt as the API returns it: version 1, or version 2 when it carries
 * `charged` and the other v2 fields. model, version and timings are unsigned labels.
 */
export interface InferenceReceipt extends ReceiptFields, Partial<ReceiptChargeFields> {
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

/** Whether a receipt (or its fields) is of version 2: it carries `charged` (and then must carry every v2 field). */
export function isReceiptV2(fields: ReceiptFields | Partial<ReceiptFieldsV2>): fields is ReceiptFieldsV2 {
  return (fields as Partial<ReceiptFieldsV2>).charged !== undefined;
}

/** The EIP-712 typed-data object of a version 2 receipt, for viem's signTypedData / recoverTypedDataAddress / hashTypedData. */
export function receiptTypedDataV2(fields: ReceiptFieldsV2) {
  return {
    domain: RECEIPT_DOMAIN,
    types: RECEIPT_TYPES_V2,
    primaryType: 'InferenceReceiptV2',
    message: {
      ...receiptTypedData(fields).message,
      policyId: fields.policyId,
      runMs: BigInt(fields.runMs),
      priceBase: BigInt(fields.priceBase),
      pricePerMs: BigInt(fields.pricePerMs),
      priceCap: BigInt(fields.priceCap),
      charged: BigInt(fields.charged),
      paymentScheme: fields.paymentScheme,
      paymentNetwork: fields.paymentNetwork,
      paymentAsset: fields.paymentAsset,
      payer: fields.payer,
      paymentNonce: fields.paymentNonce,
    },
  } as const;
}
