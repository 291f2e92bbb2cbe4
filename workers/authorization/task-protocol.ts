/**
 * The gateway ↔ operator protocol of authorization tasks: the task every operator receives, the two
 * phase messages (PolicyData outputs, then a signed verdict) and operator registration. Web APIs
 * only, so the TaskQuorum Durable Object (workerd) and the operator node (Node) share it.
 */
import { getAddress, isAddress, keccak256, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { intentSchema, type Intent } from '../../core/attestation';

/** Paths of the operator node's task endpoints (gateway-authenticated, see gateway-request-auth). */
export const OPERATOR_PATHS = {
  policyData: '/v1/tasks/policy-data',
  sign: '/v1/tasks/sign',
} as const;

/** Stable operator id: letters, digits, `.`, `_`, `-`. */
export const OPERATOR_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The default id of an operator that names none: derived from its key, so it is stable. */
export function defaultOperatorId(blsPublicKey: Hex): string {
  return `op-${keccak256(blsPublicKey).slice(2, 18)}`;
}

const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'expected 0x-hex bytes32').transform((s) => s.toLowerCase() as Hex);
const address = z.string().refine((s) => isAddress(s, { strict: false }), 'not an address').transform((s) => getAddress(s) as Address);

/** Everything an operator needs to evaluate a task, fixed when the task is created. */
export const authorizationTaskSchema = z.object({
  taskId: bytes32,
  policyId: bytes32,
  policyClient: address,
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  intent: intentSchema,
  modules: z.record(z.string(), z.string()),
  entrypoint: z.string().min(1).max(256),
  params: z.unknown(),
  policyData: z.array(z.object({ name: z.string(), sha256: bytes32 })),
  /** Unix seconds: the task's creation time, the only clock the policy and PolicyData see. */
  createdAt: z.number().int().nonnegative(),
  /** Unix seconds until which the attestation may be used. */
  expiration: z.number().int().nonnegative(),
});

/** A task as sent to operators. */
export type AuthorizationTask = Omit<z.infer<typeof authorizationTaskSchema>, 'intent'> & { intent: Intent };

/** Phase 1 reply: each PolicyData module's output, or the error it ended with. */
export const policyDataReplySchema = z.object({
  outputs: z.record(z.string(), z.union([z.object({ ok: z.unknown() }), z.object({ err: z.string().max(1024) })])),
});

/** Phase 1 reply as parsed. */
export type PolicyDataReply = z.infer<typeof policyDataReplySchema>;

/** Phase 2 request body: the task and the consensus PolicyData fixed by the gateway. */
export const signRequestSchema = z.object({ task: authorizationTaskSchema, policyData: z.record(z.string(), z.unknown()) });

/** Phase 2 request. */
export type SignRequest = { task: AuthorizationTask; policyData: Record<string, unknown> };

/** Phase 2 reply: the operator's verdict and its BLS signature over the attestation digest. */
export const signReplySchema = z.object({
  allowed: z.boolean(),
  reasons: z.array(z.string().max(1024)).max(64),
  policyDataHash: bytes32,
  digest: bytes32,
  signature: z.string().regex(/^0x[0-9a-fA-F]{192}$/, 'expected a 96-byte signature').transform((s) => s.toLowerCase() as Hex),
});

/** Phase 2 reply as parsed. */
export type SignReply = z.infer<typeof signReplySchema>;

/** The fields an operator's registration signature covers. */
export type OperatorRegistrationFields = { id: string; url: string; address: Address | null; issuedAt: number };

/** How far (s) a registration's issuedAt may be from the gateway's clock. */
export const REGISTRATION_MAX_SKEW_S = 300;

/**
 * The message an operator BLS-signs to register or re-register (besides its proof of possession,
 * which is public once registered): binding id, URL and time makes a captured registration useless.
 */
export function operatorRegistrationMessage(fields: OperatorRegistrationFields): Uint8Array {
  return new TextEncoder().encode(
    ['proofgate-operator-registration-v1', fields.id, fields.url, fields.address?.toLowerCase() ?? '', String(fields.issuedAt)].join('\n'),
  );
}

/** The label from which an operator's request-authentication key is derived (never an address, so never a backend's). */
export function operatorAuthLabel(operatorId: string): string {
  return `operator:${operatorId}`;
}
