/**
 * The gateway ↔ signer node protocol of tasks: the task every operator's signer node receives and
 * the two phase messages (signed PolicyData reports, then a signed verdict). Web APIs only, so the
 * TaskQuorum Durable Object (workerd) and the signer node (Node) share it.
 */
import { z } from 'zod';
import type { Hex } from 'viem';
import { intentSchema, type Intent, type PolicyDataOutput, type PolicyDataReportGroup } from '../attestation';
import { addressSchema, bytes32Schema, hexBytesSchema } from '../hex';
import type { PolicyContent } from './policy-content';

/** Paths of the signer node's task endpoints (gateway-authenticated, see core/node-protocol). */
export const TASK_PATHS = {
  policyData: '/v1/tasks/policy-data',
  sign: '/v1/tasks/sign',
} as const;

/**
 * What the gateway sends for a task, fixed when the task is created. It names its policy by id
 * only: each node fetches the content and checks it hashes to the id, so the gateway cannot make
 * operators evaluate anything but the real policy.
 */
export const taskAssignmentSchema = z.object({
  taskId: bytes32Schema,
  policyId: bytes32Schema,
  policyClient: addressSchema,
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  intent: intentSchema,
  /** The policy's quorum (nodes check it against the policy's content and sign it). */
  thresholdBps: z.number().int().min(1).max(10_000),
  /** The OperatorRegistry contract and block whose snapshot the task is judged under (signed). */
  registry: addressSchema,
  registryBlock: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Newton's `wasm_args`: the JSON object every `newton:provider` PolicyData component of the policy gets as input. */
  wasmArgs: z.record(z.string(), z.unknown()).optional(),
  /** The called function's signature (`transfer(address to, uint256 amount)`): nodes decode the calldata with it for Newton's `input` fields. */
  functionSignature: z.string().min(1).max(1024).optional(),
  /** Unix seconds: the task's creation time, the only clock the policy and PolicyData see. */
  createdAt: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Unix seconds until which the attestation may be used. */
  expiration: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

/** A task as the gateway sends it to signer nodes. */
export type TaskAssignment = Omit<z.infer<typeof taskAssignmentSchema>, 'intent'> & { intent: Intent };

/** A task with its policy's content, fetched and hash-checked by the node: what evaluation and PolicyData runs see. */
export type IntentTask = TaskAssignment & PolicyContent;

const outputSchema = z
  .union([
    z
      .object({ ok: z.unknown() })
      .strict()
      .refine((v) => 'ok' in v, 'an output'),
    z.object({ err: z.string().max(1024) }).strict(),
  ])
  // The refine guarantees `ok` is present, which zod's inferred type leaves optional.
  .transform((v) => v as PolicyDataOutput);

/** Phase 1 reply: each PolicyData module's output (or the error it ended with), BLS-signed (policyDataReportDigest). */
export const policyDataReplySchema = z.object({
  outputs: z.record(z.string(), outputSchema),
  signature: hexBytesSchema(96),
});

/** What running a task's PolicyData modules yields on one node, per module name. */
export type PolicyDataReply = { outputs: Record<string, PolicyDataOutput> };

/** Phase 1 reply as sent: the outputs and the node's signature over them. */
export type SignedPolicyDataReply = PolicyDataReply & { signature: Hex };

/** Operators that reported the same outputs and their aggregate signature, as phase 2 forwards them. */
export const policyDataReportGroupSchema = z.object({
  operatorIds: z.array(z.string().min(1).max(64)).min(1).max(1024),
  outputs: z.record(z.string(), outputSchema),
  signature: hexBytesSchema(96),
});

/** Phase 2 request body: the task and every signed phase 1 report the gateway counted, grouped by outputs. */
export const signRequestSchema = z.object({ task: taskAssignmentSchema, reports: z.array(policyDataReportGroupSchema).max(1024) });

/** Phase 2 request. */
export type SignRequest = { task: TaskAssignment; reports: PolicyDataReportGroup[] };

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
