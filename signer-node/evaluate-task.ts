/**
 * Phase 2 on an operator: evaluate the task's Rego policy on the intent and the consensus
 * PolicyData, and BLS-sign the attestation digest of the verdict. Deterministic by construction:
 * the only clock is the task's creation time, the only seed its id, and no network is offered.
 */
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { computeIntentHash, computePolicyDataHash, computeAttestationDigest, signMessage } from '../core/attestation';
import { compilePolicy, evaluateValue, RegoError, toJS, type CompiledPolicy, type Value } from '../core/rego';
import type { IntentTask, SignReply } from '../core/operator-protocol';

/** A policy's verdict on an intent. */
export interface Verdict {
  allowed: boolean;
  reasons: string[];
}

/** Evaluation budget of one task (the same on every operator, so limits trip identically). */
export const TASK_EVAL_LIMITS = { maxSteps: 2_000_000, maxDepth: 200 };

/**
 * Evaluates `<entrypoint>.allow` (must be true) and `<entrypoint>.deny` (reasons) with `input` = the
 * intent, `data.params` = the policy's params and `data.wasm` = the consensus PolicyData. An
 * evaluation error is a deny verdict whose reason names the error, identical on every operator.
 */
export function evaluateVerdict(policy: CompiledPolicy, task: IntentTask, policyData: Record<string, unknown>): Verdict {
  const opts = {
    input: task.intent,
    data: { params: task.params ?? {}, wasm: policyData },
    context: { nowNs: BigInt(task.createdAt) * 1_000_000_000n, seed: task.taskId },
    limits: TASK_EVAL_LIMITS,
  };
  let allow: Value | undefined;
  let deny: Value | undefined;
  try {
    allow = evaluateValue(policy, `${task.entrypoint}.allow`, opts);
    deny = evaluateValue(policy, `${task.entrypoint}.deny`, opts);
  } catch (err) {
    if (err instanceof RegoError) return { allowed: false, reasons: [`policy_error: ${err.message}`] };
    throw err;
  }
  const reasons = deny === undefined ? [] : reasonsOf(toJS(deny));
  const allowed = allow !== undefined && toJS(allow) === true && reasons.length === 0;
  return { allowed, reasons: allowed || reasons.length > 0 ? reasons : ['not allowed by policy'] };
}

/** Evaluates the task and signs the digest of its verdict with the operator's BLS secret key. */
export function signTask(secretKey: Uint8Array, policy: CompiledPolicy, task: IntentTask, policyData: Record<string, unknown>): SignReply {
  const verdict = evaluateVerdict(policy, task, policyData);
  const policyDataHash = computePolicyDataHash(policyData);
  const digest = computeAttestationDigest({
    taskId: task.taskId,
    policyId: task.policyId,
    policyClient: task.policyClient,
    chainId: task.chainId,
    intentHash: computeIntentHash(task.intent),
    allowed: verdict.allowed,
    policyDataHash,
    expiration: task.expiration,
  });
  const signature = bytesToHex(signMessage(secretKey, hexToBytes(digest)));
  return { ...verdict, policyDataHash, digest, signature };
}

/** Compiled policies by policy id (a policy id is the hash of its content, so entries never go stale). */
export class PolicyCache {
  private readonly entries = new Map<Hex, CompiledPolicy>();

  constructor(private readonly capacity = 64) {}

  /** The compiled policy of a task (compiling it on first use). */
  get(task: IntentTask): CompiledPolicy {
    let policy = this.entries.get(task.policyId);
    if (!policy) {
      policy = compilePolicy(task.modules);
      this.entries.set(task.policyId, policy);
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
    return policy;
  }
}

function reasonsOf(deny: unknown): string[] {
  const items = deny instanceof Set ? [...deny] : Array.isArray(deny) ? deny : [deny];
  return items.map((r) => (typeof r === 'string' ? r : JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))).sort();
}
