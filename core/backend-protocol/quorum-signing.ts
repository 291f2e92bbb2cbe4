/**
 * The gateway ↔ backend protocol of quorum inference: how a backend proves at registration that it
 * belongs to an operator (the operator's BLS key signs the attachment), how the runs of one quorum
 * request are named, and the phase 2 call in which a backend's operator signs the inference digest
 * over the reference output. Web APIs only: the Worker, its Durable Objects and the backend share it.
 */
import { encodePacked, keccak256, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { outputToleranceSchema, type InferenceAttestationRequest } from '../attestation';
import { addressSchema, bytes32Schema, hexBytesSchema } from '../hex';
import { OPERATOR_ID } from '../operator-protocol';

/** Paths a backend attached to an operator serves to the gateway (gateway-authenticated, see core/node-protocol). */
export const QUORUM_PATHS = {
  /** Phase 2: the backend's operator BLS-signs the inference digest over the reference output. */
  sign: '/v1/quorum/sign',
} as const;

/** The fields an operator's attachment of a backend covers (the backend's registration carries them). */
export interface OperatorAttachmentFields {
  operatorId: string;
  backend: Address;
  url: string;
  issuedAt: number;
}

/**
 * The message an operator's BLS key signs to attach a backend: operator id, backend address, URL
 * and the registration's time, so an attachment cannot be moved to another backend, URL or moment.
 * Its prefix keeps it apart from every other message operators sign (digests are 32 bytes).
 */
export function operatorAttachmentMessage(fields: OperatorAttachmentFields): Uint8Array {
  return new TextEncoder().encode(
    ['proofgate-backend-attachment-v1', fields.operatorId, fields.backend.toLowerCase(), fields.url, String(fields.issuedAt)].join('\n'),
  );
}

/** A backend registration's `operator` field: the operator's id, its BLS public key and its signature over the attachment. */
export const operatorAttachmentSchema = z
  .object({
    id: z.string().regex(OPERATOR_ID, 'letters, digits, ".", "_" or "-", at most 64'),
    blsPublicKey: hexBytesSchema(48),
    signature: hexBytesSchema(96),
  })
  .strict();

/** An operator attachment as a registration carries it. */
export type OperatorAttachment = z.infer<typeof operatorAttachmentSchema>;

/**
 * The request id of one backend's run within a quorum request: keccak256(requestId ‖ backend). Each
 * run has an id of its own (receipts are stored by id, backends refuse a repeated id) that the
 * backend can tie back to the quorum request it signs for.
 */
export function quorumRunRequestId(requestId: Hex, backend: Address): Hex {
  return keccak256(encodePacked(['bytes32', 'address'], [requestId, backend]));
}

/** What the gateway states in phase 2, as signed into the digest. */
export const inferenceAttestationRequestSchema = z
  .object({
    requestId: bytes32Schema,
    modelSha256: bytes32Schema,
    inputHash: bytes32Schema,
    outputHash: bytes32Schema,
    chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    expiration: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    tolerance: outputToleranceSchema,
    thresholdBps: z.number().int().min(1).max(10_000),
    registry: addressSchema,
    registryBlock: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  })
  .strict();

/** Phase 2 request body: what to sign, the run it is about, and the reference outputs when they differ from the backend's own. */
export const quorumSignRequestSchema = z
  .object({
    request: inferenceAttestationRequestSchema,
    runRequestId: bytes32Schema,
    /** Base64 of the reference outputs' canonical encoding (absent when the backend's own output is the reference, byte for byte). */
    referenceOutputs: z
      .string()
      .max(64 * 1024 * 1024)
      .optional(),
  })
  .strict();

/** Phase 2 request as sent. */
export type QuorumSignRequest = { request: InferenceAttestationRequest; runRequestId: Hex; referenceOutputs?: string };

/** Phase 2 reply: the operator and its BLS signature over the digest it computed. */
export const quorumSignReplySchema = z.object({ operatorId: z.string().regex(OPERATOR_ID), digest: bytes32Schema, signature: hexBytesSchema(96) });

/** Phase 2 reply as parsed. */
export type QuorumSignReply = z.infer<typeof quorumSignReplySchema>;

/** The longest an inference attestation may stay usable after it was asked for (s). */
export const INFERENCE_ATTESTATION_MAX_VALIDITY_S = 86_400;
