/**
 * The gateway ↔ signer node protocol of tasks: the task every operator's signer node receives and
 * the two phase messages (PolicyData outputs, then a signed verdict). Web APIs only, so the
 * TaskQuorum Durable Object (workerd) and the signer node (Node) share it.
 */
import { z } from 'zod';
import { intentSchema, type Intent } from '../attestation';
import { addressSchema, bytes32Schema, hexBytesSchema } from '../hex';

/** Paths of the signer node's task endpoints (gateway-authenticated, see core/node-protocol). */
export const TASK_PATHS = {
  policyData: '/v1/tasks/policy-data',
  sign: '/v1/tasks/sign',
} as const;

/** Everything an operator needs to evaluate a task, fixed when the task is created. */
export const intentTaskSchema = z.object({
  taskId: bytes32Schema,
  policyId: bytes32Schema,
  policyClient: addressSchema,
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  intent: intentSchema,
  modules: z.record(z.string(), z.string()),
  entrypoint: z.string().min(1).max(256),
  params: z.unknown(),
  policyData: z.array(z.object({ name: z.string(), sha256: bytes32Schema })),
  /** Unix seconds: the task's creation time, the only clock the policy and PolicyData see. */
  createdAt: z.number().int().nonnegative(),
  /** Unix seconds until which the attestation may be used. */
  expiration: z.number().int().nonnegative(),
});

/** A task (an intent under a policy) as sent to signer nodes. */
export type IntentTask = Omit<z.infer<typeof intentTaskSchema>, 'intent'> & { intent: Intent };

/** Phase 1 reply: each PolicyData module's output, or the error it ended with. */
export const policyDataReplySchema = z.object({
  outputs: z.record(z.string(), z.union([z.object({ ok: z.unknown() }), z.object({ err: z.string().max(1024) })])),
});

/** Phase 1 reply as parsed. */
export type PolicyDataReply = z.infer<typeof policyDataReplySchema>;

/** Phase 2 request body: the task and the consensus PolicyData fixed by the gateway. */
export const signRequestSchema = z.object({ task: intentTaskSchema, policyData: z.record(z.string(), z.unknown()) });

/** Phase 2 request. */
export type SignRequest = { task: IntentTask; policyData: Record<string, unknown> };

/** Phase 2 reply: the operator's verdict and its BLS signature over the attestation digest. */
export const signReplySchema = z.object({
  allowed: z.boolean(),
  reasons: z.array(z.string().max(1024)).max(64),
  policyDataHash: bytes32Schema,
  digest: bytes32Schema,
  signature: hexBytesSchema(96),
});

/** Phase 2 reply as parsed. */
export type SignReply = z.infer<typeof signReplySchema>;
