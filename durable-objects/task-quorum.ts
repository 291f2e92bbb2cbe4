import { DurableObject } from 'cloudflare:workers';
import type { Hex } from 'viem';
import {
  attestationIfQuorum,
  computePolicyDataHash,
  countSignature,
  parseStake,
  policyDataConsensus,
  stakeByDigest,
  totalStake,
  type Attestation,
  type CountedSignature,
  type PolicyDataReport,
  type RegisteredOperator,
} from '../core/attestation';
import { ProofgateError, toRpcResult, type RpcResult } from '../core/errors';
import { TASK_PATHS, policyDataReplySchema, signReplySchema, type IntentTask, type PolicyDataReply } from '../core/operator-protocol';
import { callOperator } from './operator-calls';

/** An operator of the task's snapshot, with the URL its node answers at. */
export type TaskOperator = RegisteredOperator & { url: string };

/** What the gateway hands a new task. */
export interface TaskInit {
  task: IntentTask;
  operators: TaskOperator[];
  thresholdBps: number;
  /** Epoch ms after which the task fails if no quorum formed. */
  deadlineMs: number;
  /** Relative tolerance (basis points) for numeric PolicyData outputs. */
  toleranceBps: number;
}

/** Lifecycle of a task. */
export type TaskStatus = 'collecting_policy_data' | 'signing' | 'completed' | 'failed';

/** A task as `GET /v1/tasks/:id` shows it. */
export interface TaskView {
  taskId: Hex;
  status: TaskStatus;
  policyId: Hex;
  policyClient: string;
  chainId: number;
  intent: IntentTask['intent'];
  createdAt: number;
  expiration: number;
  deadline: string;
  thresholdBps: number;
  totalStake: string;
  policyData: Record<string, unknown> | null;
  policyDataHash: Hex | null;
  signers: string[];
  nonSigners: string[];
  verdicts: { digest: Hex; allowed: boolean; signedStake: string; signers: string[] }[];
  rejected: { operatorId: string; phase: 'policy_data' | 'sign'; reason: string }[];
  attestation: Attestation | null;
  failure: { code: string; message: string } | null;
}

interface TaskState extends TaskInit {
  status: TaskStatus;
  policyData: Record<string, unknown> | null;
  policyDataHash: Hex | null;
  counted: CountedSignature[];
  rejected: TaskView['rejected'];
  attestation: Attestation | null;
  failure: TaskView['failure'];
}

interface Env {
  GATEWAY_SECRET: string;
}

/** Longest a PolicyData phase may take, so a silent operator cannot hold it until the deadline. */
const POLICY_DATA_PHASE_MAX_MS = 5_000;

/**
 * One authorization task (named by its task id): it fans the two phases out to the operators of
 * its registry snapshot, fixes the consensus PolicyData, verifies and tallies the signed verdicts,
 * and aggregates the attestation once a stake quorum signed the same digest, or fails at the
 * deadline (alarm) with the reason. State survives eviction in the object's storage.
 */
export class TaskQuorum extends DurableObject<Env> {
  private state: TaskState | null = null;
  private readonly waiters: (() => void)[] = [];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<TaskState>('state')) ?? null;
    });
  }

  /** Creates the task and starts dispatching it; creating the same task twice is refused (409 `task_exists`). */
  async start(init: TaskInit): Promise<RpcResult<TaskView>> {
    return toRpcResult(async () => {
      if (this.state) throw new ProofgateError('task_exists', `task ${init.task.taskId} already exists`, 409);
      this.state = {
        ...init,
        status: 'collecting_policy_data',
        policyData: null,
        policyDataHash: null,
        counted: [],
        rejected: [],
        attestation: null,
        failure: null,
      };
      await this.save();
      await this.ctx.storage.setAlarm(init.deadlineMs);
      void this.drive();
      return this.view()!;
    });
  }

  /** The task's current view, or null when no task has this id. */
  view(): TaskView | null {
    const s = this.state;
    if (!s) return null;
    const counted = new Set(s.counted.map((c) => c.operatorId));
    const signers = s.attestation?.signers ?? s.operators.filter((o) => counted.has(o.id)).map((o) => o.id);
    return {
      taskId: s.task.taskId,
      status: s.status,
      policyId: s.task.policyId,
      policyClient: s.task.policyClient,
      chainId: s.task.chainId,
      intent: s.task.intent,
      createdAt: s.task.createdAt,
      expiration: s.task.expiration,
      deadline: new Date(s.deadlineMs).toISOString(),
      thresholdBps: s.thresholdBps,
      totalStake: totalStake(s.operators).toString(),
      policyData: s.policyData,
      policyDataHash: s.policyDataHash,
      signers,
      nonSigners: s.operators.filter((o) => !signers.includes(o.id)).map((o) => o.id),
      verdicts: s.policyDataHash
        ? stakeByDigest({ ...s, policyDataHash: s.policyDataHash }).map((g) => ({
            digest: g.digest,
            allowed: s.counted.find((c) => c.digest === g.digest)!.allowed,
            signedStake: g.stake.toString(),
            signers: g.signers,
          }))
        : [],
      rejected: s.rejected,
      attestation: s.attestation,
      failure: s.failure,
    };
  }

  /** The operator registry (keys, stakes) the task was dispatched under; null when no task has this id. */
  registrySnapshot(): RegisteredOperator[] | null {
    return this.state?.operators.map(({ id, blsPublicKey, stake, status }) => ({ id, blsPublicKey, stake, status })) ?? null;
  }

  /** Resolves with the view once the task is final or after `timeoutMs`, whichever comes first. */
  async waitFor(timeoutMs: number): Promise<TaskView | null> {
    if (this.state && !isFinal(this.state.status)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.view();
  }

  /**
   * At the deadline a task still without quorum fails with the reason; the alarm set when the task
   * became final erases it once its attestation has long expired, so storage stays bounded.
   */
  override async alarm(): Promise<void> {
    const s = this.state;
    if (!s) return;
    if (!isFinal(s.status)) {
      await this.finish({ failure: { code: 'deadline_exceeded', message: deadlineReason(s) } });
    } else if (Date.now() >= retentionEndMs(s)) {
      this.state = null;
      await this.ctx.storage.deleteAll();
    }
  }

  private async drive(): Promise<void> {
    const s = this.state!;
    try {
      const policyData = s.task.policyData.length === 0 ? {} : await this.collectPolicyData(s);
      if (isFinal(s.status)) return;
      s.policyData = policyData;
      s.policyDataHash = computePolicyDataHash(policyData);
      s.status = 'signing';
      await this.save();
      await Promise.allSettled(s.operators.map((operator) => this.collectSignature(s, operator)));
    } catch (err) {
      if (isFinal(s.status)) return;
      const e = err instanceof ProofgateError ? err : new ProofgateError('task_failed', err instanceof Error ? err.message : String(err), 500);
      await this.finish({ failure: { code: e.code, message: e.message } });
    }
  }

  // Phase 1: every operator runs the PolicyData modules; one value per module is fixed by stake majority.
  private async collectPolicyData(s: TaskState): Promise<Record<string, unknown>> {
    const timeoutMs = Math.min(POLICY_DATA_PHASE_MAX_MS, s.deadlineMs - Date.now());
    const replies = await Promise.all(
      s.operators.map(async (operator): Promise<[TaskOperator, PolicyDataReply | null]> => {
        try {
          const body = await callOperator(this.env.GATEWAY_SECRET, operator, TASK_PATHS.policyData, s.task, { task: s.task }, timeoutMs);
          const parsed = policyDataReplySchema.safeParse(body);
          if (parsed.success) return [operator, parsed.data];
          s.rejected.push({ operatorId: operator.id, phase: 'policy_data', reason: 'malformed reply' });
        } catch (err) {
          s.rejected.push({ operatorId: operator.id, phase: 'policy_data', reason: err instanceof Error ? err.message : String(err) });
        }
        return [operator, null];
      }),
    );
    const total = totalStake(s.operators);
    const consensus: Record<string, unknown> = {};
    for (const { name } of s.task.policyData) {
      const reports: PolicyDataReport[] = replies.flatMap(([operator, reply]) => {
        const output = reply?.outputs[name];
        return output ? [{ operatorId: operator.id, stake: parseStake(operator.stake) ?? 0n, output: output as PolicyDataReport['output'] }] : [];
      });
      consensus[name] = policyDataConsensus(name, reports, total, s.toleranceBps);
    }
    return consensus;
  }

  // Phase 2: one operator's signed verdict, verified and counted as soon as it arrives.
  private async collectSignature(s: TaskState, operator: TaskOperator): Promise<void> {
    let rejection: string | null;
    try {
      const body = await callOperator(
        this.env.GATEWAY_SECRET,
        operator,
        TASK_PATHS.sign,
        s.task,
        { task: s.task, policyData: s.policyData },
        s.deadlineMs - Date.now(),
      );
      const reply = signReplySchema.safeParse(body);
      rejection = reply.success
        ? countSignature({ ...s, policyDataHash: s.policyDataHash!, counted: s.counted }, operator.id, reply.data)
        : 'malformed reply';
    } catch (err) {
      rejection = err instanceof Error ? err.message : String(err);
    }
    if (s.status === 'failed') return;
    if (rejection) s.rejected.push({ operatorId: operator.id, phase: 'sign', reason: rejection });
    // A signature arriving after the quorum is still recorded (the task shows every verdict) but changes nothing.
    if (rejection || s.status === 'completed') {
      await this.save();
      return;
    }
    const attestation = attestationIfQuorum({ ...s, policyDataHash: s.policyDataHash!, counted: s.counted });
    if (attestation) await this.finish({ attestation });
    else await this.save();
  }

  private async finish(outcome: { attestation: Attestation } | { failure: { code: string; message: string } }): Promise<void> {
    const s = this.state!;
    if ('attestation' in outcome) {
      s.status = 'completed';
      s.attestation = outcome.attestation;
    } else {
      s.status = 'failed';
      s.failure = outcome.failure;
    }
    await this.save();
    await this.ctx.storage.setAlarm(retentionEndMs(s));
    for (const wake of this.waiters.splice(0)) wake();
  }

  private async save(): Promise<void> {
    await this.ctx.storage.put('state', this.state);
  }
}

/** How long a final task stays readable after its attestation expired. */
const RETENTION_AFTER_EXPIRY_MS = 24 * 60 * 60_000;

function retentionEndMs(s: TaskState): number {
  return s.task.expiration * 1000 + RETENTION_AFTER_EXPIRY_MS;
}

function isFinal(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed';
}

function deadlineReason(s: TaskState): string {
  const total = totalStake(s.operators);
  const best = s.policyDataHash ? stakeByDigest({ ...s, policyDataHash: s.policyDataHash })[0] : undefined;
  const signed = best?.stake ?? 0n;
  const silent = s.operators.filter((o) => !s.counted.some((c) => c.operatorId === o.id)).map((o) => o.id);
  const phase = s.status === 'collecting_policy_data' ? ' (still collecting PolicyData)' : '';
  return (
    `quorum not reached before the deadline${phase}: signed stake ${signed} of ${total}, ` +
    `threshold ${s.thresholdBps} bps needs ${(total * BigInt(s.thresholdBps) + 9_999n) / 10_000n}; ` +
    `no valid signature from ${silent.length ? silent.join(', ') : 'nobody'}`
  );
}

/** A task's stub (one object per task id). */
export function taskQuorum(ns: DurableObjectNamespace<TaskQuorum>, taskId: string): DurableObjectStub<TaskQuorum> {
  return ns.get(ns.idFromName(taskId.toLowerCase()));
}
