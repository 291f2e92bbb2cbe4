/**
 * Phase 2 on an operator: evaluate the task's Rego policy on the intent and the consensus
 * PolicyData, and BLS-sign the attestation digest of the verdict. Deterministic by construction:
 * the only clock is the task's creation time, the only seed its id, and no network is offered.
 */
import { bytesToHex, hexToBytes } from 'viem';
import { computeIntentHash, computePolicyDataHash, computeAttestationDigest, signMessage } from '../core/attestation';
import { evaluateValue, RegoError, toJS, type CompiledPolicy, type Value } from '../core/rego';
import type { IntentTask, SignReply } from '../core/operator-protocol';
import { policyDataDocument, policyInput } from './newton-shapes';
import type { PolicyDataBinaryKind } from './policy-data-sandbox';

/** A policy's verdict on an intent. */
export interface Verdict {
  allowed: boolean;
  reasons: string[];
}

/** Evaluation budget of one task (the same on every operator, so limits trip identically). */
export const TASK_EVAL_LIMITS = { maxSteps: 2_000_000, maxDepth: 200 };

/**
 * Evaluates `<entrypoint>.allow` (must be true) and `<entrypoint>.deny` (reasons) with `input` = the
 * intent (with Newton's fields), `data.params` = the policy's params and `data.wasm` = the consensus
 * PolicyData (by module name; components' outputs merged, per `kinds`: newton-shapes.ts). An
 * evaluation error is a deny verdict whose reason names the error, identical on every operator.
 */
export function evaluateVerdict(
  policy: CompiledPolicy,
  task: IntentTask,
  policyData: Record<string, unknown>,
  kinds: Record<string, PolicyDataBinaryKind> = {},
): Verdict {
  const opts = {
    input: policyInput(task),
    data: { params: task.params ?? {}, wasm: policyDataDocument(task.policyData, policyData, kinds) },
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
export function signTask(
  secretKey: Uint8Array,
  policy: CompiledPolicy,
  task: IntentTask,
  policyData: Record<string, unknown>,
  kinds: Record<string, PolicyDataBinaryKind> = {},
): SignReply {
  const verdict = evaluateVerdict(policy, task, policyData, kinds);
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
    thresholdBps: task.thresholdBps,
    registry: task.registry,
    registryBlock: task.registryBlock,
  });
  const signature = bytesToHex(signMessage(secretKey, hexToBytes(digest)));
  return { ...verdict, policyDataHash, digest, signature };
}

function reasonsOf(deny: unknown): string[] {
  const items = deny instanceof Set ? [...deny] : Array.isArray(deny) ? deny : [deny];
  return items.map((r) => (typeof r === 'string' ? r : JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))).sort();
}
