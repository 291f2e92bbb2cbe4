/**
 * @proofgate/sdk: call a Proofgate gateway, pay priced models over x402, and verify what comes
 * back (receipts, attestations, and re-execution of a receipt with onnxruntime-web).
 */
export { createClient, type ClientOptions, type ProofgateClient } from './client';
export {
  infer,
  RECEIPT_HEADER,
  PAYMENT_HEADER,
  MODEL_HEADER,
  type InferOptions,
  type InferResult,
  type InferenceContext,
  type PaymentOutcome,
  type PaymentSettings,
} from './infer';
export { verifyReceipt, type VerifyReceiptOptions, type TensorsToCheck, type InferenceReceipt, type ReceiptVerification } from './verify-receipt';
export { verifyAttestation, type VerifyAttestationOptions, type AttestationVerdict } from './verify-attestation';
export {
  verifyInferenceAttestation,
  type VerifyInferenceAttestationOptions,
  type InferenceAttestationVerdict,
} from './verify-inference-attestation';
export { reExecute, DEFAULT_TOLERANCE, type ReExecuteOptions, type ReExecution, type Tolerance, type OrtModule } from './reexecute';
export { downloadModel } from './blobs';
export { paidFetch, type PaidFetchOptions } from './paid-fetch';
export { recoveringPaidFetch } from './paid-answer-recovery';
export * from './api';
export * from './errors';
export { baseUrl, gatewayFetch, gatewayJson, type GatewayOptions, type GatewayRequest, type Credential } from './gateway';
export {
  toTensor,
  toTensors,
  toTypedTensor,
  toTypedTensors,
  encodeInputs,
  type TensorInput,
  type TensorInputs,
  type TypedTensor,
  type TypedArray,
  type TypedArrayOf,
} from './tensors';
export {
  detectionInput,
  textBoxes,
  type RgbaImage,
  type DetectionInput,
  type DetectionInputOptions,
  type TextBox,
  type TextBoxOptions,
} from './vision/text-detection';
export {
  TENSORS_MEDIA_TYPE,
  TENSOR_TYPES,
  encodeTensors,
  decodeTensors,
  hashTensors,
  sha256Hex,
  tensorMapFromJson,
  tensorMapToJson,
  type Tensor,
  type TensorType,
  type JsonTensor,
} from '../../core/tensors';
export {
  RECEIPT_DOMAIN,
  RECEIPT_TYPES,
  RECEIPT_TYPES_V2,
  receiptTypedData,
  receiptTypedDataV2,
  receiptCharge,
  isReceiptV2,
  type PriceTerms,
  type ReceiptFieldsV2,
} from '../../core/receipts';
export { consumeConsentTypedData, type ConsumeConsent } from '../../core/attestation';
export type { Attestation, AttestationVerification, InferenceAttestation, OperatorRegistry } from '../../core/attestation';
