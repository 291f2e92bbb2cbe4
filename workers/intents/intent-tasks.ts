import { drizzle } from 'drizzle-orm/d1';
import { inArray } from 'drizzle-orm';
import { bytesToHex, zeroAddress, type Hex } from 'viem';
import { z } from 'zod';
import { computeIntentHash, intentSchema } from '../../core/attestation';
import { addressSchema, bytes32Schema, isBytes32 } from '../../core/hex';
import { ProofgateError, unwrapRpc } from '../../core/errors';
import { taskQuorum, type TaskQuorum, type TaskView } from '../../durable-objects/task-quorum';
import { policyDataModules, tasks } from '../../schema';
import { getPolicy, type StoredPolicy } from '../policies/policy-store';
import { activeOperatorSnapshot } from '../operators/operator-registry';
import type { IntentTask } from '../../core/operator-protocol';

/** Body of `POST /v1/intents`. */
export const submitIntentBody = z.object({
  intent: intentSchema,
  policyId: bytes32Schema,
  policyClient: addressSchema.optional(),
  /** How long to wait for the attestation before answering 202 (ms). */
  waitMs: z.number().int().min(0).max(30_000).default(5_000),
  /** How long operators have to reach a quorum (s). */
  deadlineSeconds: z.number().int().min(1).max(300).default(10),
  /** How long the attestation stays usable after the task's creation (s). */
  validForSeconds: z.number().int().min(1).max(86_400).default(3_600),
});

/** There is no active operator to send the task to. */
export class NoOperatorsError extends ProofgateError {
  constructor() {
    super('no_operators', 'no active operator is registered', 503, { retryAfterSeconds: 5 });
  }
}

/** No task has that id. */
export class TaskNotFoundError extends ProofgateError {
  constructor(id: string) {
    super('task_not_found', `no task ${id}`, 404);
  }
}

/** The policy references a PolicyData module that was never uploaded: operators could not run it. */
export class PolicyDataMissingError extends ProofgateError {
  constructor(missing: string[]) {
    super('policy_data_missing', `PolicyData modules not uploaded: ${missing.join(', ')}`, 422, { missing });
  }
}

async function checkPolicyDataPresent(db: D1Database, policy: StoredPolicy): Promise<void> {
  const wanted = policy.policyData.map((p) => p.sha256.toLowerCase());
  if (wanted.length === 0) return;
  const found = await drizzle(db)
    .select({ sha256: policyDataModules.sha256 })
    .from(policyDataModules)
    .where(inArray(policyDataModules.sha256, wanted));
  const missing = wanted.filter((w) => !found.some((f) => f.sha256 === w));
  if (missing.length > 0) throw new PolicyDataMissingError(missing);
}

/** Numeric PolicyData tolerance a policy declares in its params (`policyDataToleranceBps`), default exact. */
export function policyDataTolerance(policy: StoredPolicy): number {
  const params = policy.params as { policyDataToleranceBps?: unknown } | null;
  const bps = typeof params === 'object' && params !== null ? params.policyDataToleranceBps : undefined;
  return typeof bps === 'number' && Number.isInteger(bps) && bps >= 0 && bps <= 10_000 ? bps : 0;
}

/**
 * Creates a task for an intent under a policy in its own TaskQuorum object, snapshotting the
 * active operators, dispatches it, and waits up to `waitMs` for the outcome.
 */
export async function submitIntent(
  db: D1Database,
  ns: DurableObjectNamespace<TaskQuorum>,
  req: z.infer<typeof submitIntentBody>,
  nowMs: number,
): Promise<TaskView> {
  const policy = await getPolicy(db, req.policyId);
  await checkPolicyDataPresent(db, policy);
  const operators = await activeOperatorSnapshot(db);
  if (operators.length === 0) throw new NoOperatorsError();
  const createdAt = Math.floor(nowMs / 1000);
  const task: IntentTask = {
    taskId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
    policyId: policy.id.toLowerCase() as Hex,
    policyClient: req.policyClient ?? zeroAddress,
    chainId: req.intent.chainId,
    intent: req.intent,
    modules: policy.modules,
    entrypoint: policy.entrypoint,
    params: policy.params,
    policyData: policy.policyData,
    createdAt,
    expiration: createdAt + req.validForSeconds,
  };
  await drizzle(db)
    .insert(tasks)
    .values({
      id: task.taskId,
      policyId: task.policyId,
      intentHash: computeIntentHash(task.intent),
      chainId: task.chainId,
      expiration: task.expiration,
      createdAt: nowMs,
    });
  const stub = taskQuorum(ns, task.taskId);
  unwrapRpc(
    await stub.start({
      task,
      operators,
      thresholdBps: policy.thresholdBps,
      deadlineMs: nowMs + req.deadlineSeconds * 1000,
      toleranceBps: policyDataTolerance(policy),
    }),
  );
  return (await stub.waitFor(req.waitMs))!;
}

/** A task's current view. */
export async function getTask(ns: DurableObjectNamespace<TaskQuorum>, taskId: string): Promise<TaskView> {
  if (!isBytes32(taskId)) throw new TaskNotFoundError(taskId);
  const view = await taskQuorum(ns, taskId).view();
  if (!view) throw new TaskNotFoundError(taskId);
  return view;
}
