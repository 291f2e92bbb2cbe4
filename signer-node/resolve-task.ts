/**
 * What a signer node checks before it runs or signs anything for a task: the policy is the one
 * whose content hashes to the task's policy id (fetched by the node itself), the quorum the task
 * carries is that policy's, and the task's time is close to the node's own clock. Only then does the
 * task get its policy's content, as evaluation and PolicyData runs see it.
 */
import { ProofgateError } from '../core/errors';
import type { IntentTask, TaskAssignment } from '../core/operator-protocol';
import type { CompiledPolicy } from '../core/rego';
import type { PolicySource } from './policy-source';

/** How far (s) a task's creation time may be from this node's clock. */
export const TASK_MAX_SKEW_S = 300;
/** The longest an attestation may stay usable after its task's creation (s), as the gateway allows. */
export const TASK_MAX_VALIDITY_S = 86_400;

/** A task this node will not evaluate; `code` says why. */
export class TaskRefusedError extends ProofgateError {
  constructor(code: string, message: string) {
    super(code, message, 422);
  }
}

/** Checks a task against its policy and this node's clock; returns it with the policy's content and compiled Rego. */
export async function resolveTask(
  assignment: TaskAssignment,
  policies: PolicySource,
  nowMs: number,
): Promise<{ task: IntentTask; policy: CompiledPolicy }> {
  const { content, compiled } = await policies.get(assignment.policyId);
  if (assignment.thresholdBps !== content.thresholdBps) {
    throw new TaskRefusedError('threshold_mismatch', `the task asks quorum ${assignment.thresholdBps} bps; its policy asks ${content.thresholdBps}`);
  }
  if (Math.abs(nowMs / 1000 - assignment.createdAt) > TASK_MAX_SKEW_S) {
    throw new TaskRefusedError('stale_task', `the task was created at ${assignment.createdAt}, more than ${TASK_MAX_SKEW_S}s from this node's clock`);
  }
  if (assignment.expiration <= assignment.createdAt || assignment.expiration - assignment.createdAt > TASK_MAX_VALIDITY_S) {
    throw new TaskRefusedError('invalid_expiration', `an attestation may stay usable for 1 to ${TASK_MAX_VALIDITY_S}s after its task's creation`);
  }
  return { task: { ...assignment, ...content }, policy: compiled };
}
