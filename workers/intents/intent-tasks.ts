import { drizzle } from 'drizzle-orm/d1';
import { inArray } from 'drizzle-orm';
import { bytesToHex, zeroAddress, type Hex } from 'viem';
import { z } from 'zod';
import { activeOperators, computeIntentHash, intentSchema } from '../../core/attestation';
import { addressSchema, bytes32Schema, isBytes32 } from '../../core/hex';
import { InvalidRequestError, ProofgateError, unwrapRpc } from '../../core/errors';
import { policyDataToleranceBps, taskAssignmentSchema, type TaskAssignment } from '../../core/operator-protocol';
import { taskQuorum, type TaskQuorum, type TaskView } from '../../durable-objects/task-quorum';
import { policyDataModules, tasks } from '../../schema';
import { getPolicy, type StoredPolicy } from '../policies/policy-store';
import { signerNodesOf } from '../operators/operator-registry';
import type { OperatorRegistryChain } from '../operators/registry-snapshots';

/** Body of `POST /v1/intents`. */
export const submitIntentBody = z.object({
  intent: intentSchema,
  policyId: bytes32Schema,
  policyClient: addressSchema.optional(),
  /** Newton's `wasm_args` (input of the policy's `newton:provider` PolicyData) and the called function's signature. */
  wasmArgs: taskAssignmentSchema.shape.wasmArgs,
  functionSignature: taskAssignmentSchema.shape.functionSignature,
  /** How long to wait for the attestation before answering 202 (ms). */
  waitMs: z.number().int().min(0).max(30_000).default(5_000),
  /** How long operators have to reach a quorum (s). */
  deadlineSeconds: z.number().int().min(1).max(300).default(10),
  /** How long the attestation stays usable after the task's creation (s). */
  validForSeconds: z.number().int().min(1).max(86_400).default(3_600),
});

/** No member of the registry snapshot has a signer node to send the task to. */
export class NoOperatorsError extends ProofgateError {
  constructor() {
    super('no_operators', 'no staked operator with a registered signer node', 503, { retryAfterSeconds: 5 });
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

/** Where intents become tasks: D1 (policies, signer nodes, the task index), the task objects, the registry on chain. */
export interface IntentStores {
  db: D1Database;
  tasks: DurableObjectNamespace<TaskQuorum>;
  /** The registry on chain (a getter: a request refused earlier needs none). */
  registry: () => OperatorRegistryChain;
}

/**
 * Creates a task for an intent under a policy in its own TaskQuorum object, under the registry
 * snapshot of the chain's latest block and the policy's quorum, dispatches it to the signer nodes
 * of the snapshot's members, and waits up to `waitMs` for the outcome.
 */
export async function submitIntent(stores: IntentStores, req: z.infer<typeof submitIntentBody>, nowMs: number): Promise<TaskView> {
  const policy = await getPolicy(stores.db, req.policyId);
  await checkPolicyDataPresent(stores.db, policy);
  // The attestation is consumed on the registry's chain (AttestationValidator reads the same registry).
  const chain = stores.registry();
  const chainId = await chain.chainId();
  if (req.intent.chainId !== chainId) {
    throw new InvalidRequestError('unsupported_chain', `intents are attested for chain ${chainId}, where the operator registry is`);
  }
  const registry = await chain.latest();
  const nodes = activeOperators(registry).length === 0 ? [] : await signerNodesOf(stores.db, registry);
  if (nodes.length === 0) throw new NoOperatorsError();
  const createdAt = Math.floor(nowMs / 1000);
  const task: TaskAssignment = {
    taskId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
    policyId: policy.id.toLowerCase() as Hex,
    policyClient: req.policyClient ?? zeroAddress,
    chainId: req.intent.chainId,
    intent: req.intent,
    thresholdBps: policy.thresholdBps,
    registry: registry.address,
    registryBlock: registry.blockNumber,
    createdAt,
    expiration: createdAt + req.validForSeconds,
    ...(req.wasmArgs ? { wasmArgs: req.wasmArgs } : {}),
    ...(req.functionSignature ? { functionSignature: req.functionSignature } : {}),
  };
  await drizzle(stores.db)
    .insert(tasks)
    .values({
      id: task.taskId,
      policyId: task.policyId,
      intentHash: computeIntentHash(task.intent),
      chainId: task.chainId,
      expiration: task.expiration,
      createdAt: nowMs,
    });
  const stub = taskQuorum(stores.tasks, task.taskId);
  unwrapRpc(
    await stub.start({
      task,
      // Stakes travel as decimal strings: the snapshot is stored and sent as plain data.
      registry: { ...registry, operators: activeOperators(registry).map((o) => ({ ...o, stake: String(o.stake) })) },
      nodes,
      policyData: policy.policyData.map(({ name }) => ({ name })),
      toleranceBps: policyDataToleranceBps(policy.params),
      deadlineMs: nowMs + req.deadlineSeconds * 1000,
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
