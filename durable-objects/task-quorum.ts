import { DurableObject } from 'cloudflare:workers';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Hex } from 'viem';
import {
  attestationIfQuorum,
  checkPolicyDataReport,
  computePolicyDataHash,
  consensusFromReports,
  countSignature,
  groupPolicyDataReports,
  nobleBlsVerifier,
  registryTotalStake,
  stakeByDigest,
  type Attestation,
  type BlsVerifier,
  type CountedSignature,
  type OperatorRegistry,
  type PolicyDataReportGroup,
  type SignedPolicyDataReport,
} from '../core/attestation';
import { ProofgateError, toRpcResult, type RpcResult } from '../core/errors';
import { TASK_PATHS, policyDataReplySchema, signReplySchema, type TaskAssignment, type TaskStatus, type TaskView } from '../core/operator-protocol';

export type { TaskStatus, TaskView };
import { tasks } from '../schema';
import { callOperator, type OperatorEndpoint } from './operator-calls';

/** What the gateway hands a new task. */
export interface TaskInit {
  task: TaskAssignment;
  /** The task's registry snapshot (task.registry at task.registryBlock), stakes as decimal strings. */
  registry: OperatorRegistry;
  /** The signer nodes of the snapshot's members that registered one; members without a node simply do not sign. */
  nodes: OperatorEndpoint[];
  /** The policy's PolicyData modules (names), whose consensus the task fixes from the signed reports. */
  policyData: { name: string }[];
  /** Relative tolerance (basis points) for numeric PolicyData outputs. */
  toleranceBps: number;
  /** Epoch ms after which the task fails if no quorum formed. */
  deadlineMs: number;
}

interface TaskState extends TaskInit {
  status: TaskStatus;
  reports: SignedPolicyDataReport[];
  /** The reports as phase 2 sends them: grouped by outputs, one aggregate signature per group. */
  reportGroups: PolicyDataReportGroup[];
  consensus: Record<string, unknown> | null;
  policyDataHash: Hex | null;
  counted: CountedSignature[];
  rejected: TaskView['rejected'];
  attestation: Attestation | null;
  failure: TaskView['failure'];
}

interface Env {
  GATEWAY_SECRET: string;
  DB: D1Database;
  /** How long (s) a final task stays readable after its attestation expired (default one day). */
  TASK_RETENTION_SECONDS?: string;
}

/** Longest a PolicyData phase may take, so a silent operator cannot hold it until the deadline. */
const POLICY_DATA_PHASE_MAX_MS = 5_000;
const DEFAULT_RETENTION_S = 24 * 60 * 60;

/**
 * One authorization task (named by its task id): it fans the two phases out to the signer nodes of
 * its registry snapshot's members, checks and keeps their signed PolicyData reports and fixes the
 * consensus from them, verifies and tallies the signed verdicts, and aggregates the attestation once
 * members holding the policy's quorum of the snapshot's stake signed the same digest, or fails at the
 * deadline (alarm) with the reason. State survives eviction in the object's storage, and is erased
 * (with the task's D1 row) once the attestation has long expired.
 *
 * BLS work goes through `blsVerifier()`: @noble/curves here; the Worker exports a subclass that
 * brings the WebAssembly build with decoded keys cached per isolate.
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

  /** The BLS implementation this object verifies and aggregates with. */
  protected blsVerifier(): Promise<BlsVerifier> {
    return Promise.resolve(nobleBlsVerifier);
  }

  /** Creates the task and starts dispatching it; creating the same task twice is refused (409 `task_exists`). */
  async start(init: TaskInit): Promise<RpcResult<TaskView>> {
    return toRpcResult(async () => {
      if (this.state) throw new ProofgateError('task_exists', `task ${init.task.taskId} already exists`, 409);
      this.state = {
        ...init,
        status: 'collecting_policy_data',
        reports: [],
        reportGroups: [],
        consensus: null,
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
    const members = s.registry.operators.map((o) => o.id);
    const counted = new Set(s.counted.map((c) => c.operatorId));
    const signers = s.attestation?.signers ?? members.filter((id) => counted.has(id));
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
      thresholdBps: s.task.thresholdBps,
      registry: s.task.registry,
      registryBlock: s.task.registryBlock,
      totalStake: registryTotalStake(s.registry).toString(),
      policyData: s.consensus,
      policyDataHash: s.policyDataHash,
      signers,
      nonSigners: members.filter((id) => !signers.includes(id)),
      verdicts: stakeByDigest(s).map((g) => ({
        digest: g.digest,
        allowed: s.counted.find((c) => c.digest === g.digest)!.allowed,
        signedStake: g.stake.toString(),
        signers: g.signers,
      })),
      rejected: s.rejected,
      attestation: s.attestation,
      failure: s.failure,
    };
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
   * became final erases it (storage and D1 row) once its attestation has long expired.
   */
  override async alarm(): Promise<void> {
    const s = this.state;
    if (!s) return;
    if (!isFinal(s.status)) {
      await this.finish({ failure: { code: 'deadline_exceeded', message: deadlineReason(s) } });
    } else if (Date.now() >= this.retentionEndMs(s)) {
      await drizzle(this.env.DB).delete(tasks).where(eq(tasks.id, s.task.taskId));
      this.state = null;
      await this.ctx.storage.deleteAll();
    } else {
      await this.ctx.storage.setAlarm(this.retentionEndMs(s));
    }
  }

  private async drive(): Promise<void> {
    const s = this.state!;
    try {
      const verifier = await this.blsVerifier();
      const consensus = s.policyData.length === 0 ? {} : await this.collectPolicyData(s, verifier);
      if (isFinal(s.status)) return;
      s.consensus = consensus;
      s.reportGroups = groupPolicyDataReports(s.task.taskId, s.reports, verifier);
      s.policyDataHash = computePolicyDataHash(consensus);
      s.status = 'signing';
      await this.save();
      const members = new Set(s.registry.operators.map((o) => o.id));
      await Promise.allSettled(s.nodes.filter((n) => members.has(n.id)).map((node) => this.collectSignature(s, node, verifier)));
    } catch (err) {
      if (isFinal(s.status)) return;
      const e = err instanceof ProofgateError ? err : new ProofgateError('task_failed', 'the task failed', 500);
      await this.finish({ failure: { code: e.code, message: e.message } });
    }
  }

  // Phase 1: every node runs the PolicyData modules and signs its outputs; each report is checked
  // against its operator's key before it counts, and one value per module is fixed by stake.
  private async collectPolicyData(s: TaskState, verifier: BlsVerifier): Promise<Record<string, unknown>> {
    const timeoutMs = Math.min(POLICY_DATA_PHASE_MAX_MS, s.deadlineMs - Date.now());
    await Promise.all(
      s.nodes.map(async (node) => {
        try {
          const body = await callOperator(this.env.GATEWAY_SECRET, node, TASK_PATHS.policyData, s.task, { task: s.task }, timeoutMs);
          const parsed = policyDataReplySchema.safeParse(body);
          if (!parsed.success) throw new ProofgateError('malformed_reply', 'malformed reply', 502);
          const report: SignedPolicyDataReport = { operatorId: node.id, outputs: parsed.data.outputs, signature: parsed.data.signature };
          checkPolicyDataReport(s.task.taskId, report, s.registry, verifier);
          s.reports.push(report);
        } catch (err) {
          s.rejected.push({ operatorId: node.id, phase: 'policy_data', reason: err instanceof Error ? err.message : 'failed' });
        }
      }),
    );
    const reports = s.reports.map((r) => ({ operatorIds: [r.operatorId], outputs: r.outputs }));
    return consensusFromReports(s.policyData, reports, s.registry, s.toleranceBps);
  }

  // Phase 2: one node's signed verdict, verified and counted as soon as it arrives.
  private async collectSignature(s: TaskState, node: OperatorEndpoint, verifier: BlsVerifier): Promise<void> {
    let rejection: string | null;
    try {
      const body = await callOperator(
        this.env.GATEWAY_SECRET,
        node,
        TASK_PATHS.sign,
        s.task,
        { task: s.task, reports: s.reportGroups },
        s.deadlineMs - Date.now(),
      );
      const reply = signReplySchema.safeParse(body);
      rejection = reply.success ? countSignature(this.tally(s), node.id, reply.data, verifier) : 'malformed reply';
    } catch (err) {
      rejection = err instanceof Error ? err.message : 'failed';
    }
    if (s.status === 'failed') return;
    if (rejection) s.rejected.push({ operatorId: node.id, phase: 'sign', reason: rejection });
    // A signature arriving after the quorum is still recorded (the task shows every verdict) but changes nothing.
    if (rejection || s.status === 'completed') {
      await this.save();
      return;
    }
    const attestation = attestationIfQuorum(this.tally(s), verifier);
    if (attestation) await this.finish({ attestation });
    else await this.save();
  }

  private tally(s: TaskState) {
    return { task: s.task, registry: s.registry, policyDataHash: s.policyDataHash!, counted: s.counted };
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
    await this.ctx.storage.setAlarm(this.retentionEndMs(s));
    for (const wake of this.waiters.splice(0)) wake();
  }

  private retentionEndMs(s: TaskState): number {
    const configured = Number(this.env.TASK_RETENTION_SECONDS);
    const retentionS = Number.isSafeInteger(configured) && configured >= 0 ? configured : DEFAULT_RETENTION_S;
    return (s.task.expiration + retentionS) * 1000;
  }

  private async save(): Promise<void> {
    await this.ctx.storage.put('state', this.state);
  }
}

function isFinal(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed';
}

function deadlineReason(s: TaskState): string {
  const total = registryTotalStake(s.registry);
  const signed = stakeByDigest(s)[0]?.stake ?? 0n;
  const silent = s.registry.operators.filter((o) => !s.counted.some((c) => c.operatorId === o.id)).map((o) => o.id);
  const phase = s.status === 'collecting_policy_data' ? ' (still collecting PolicyData)' : '';
  return (
    `quorum not reached before the deadline${phase}: signed stake ${signed} of ${total}, ` +
    `threshold ${s.task.thresholdBps} bps needs ${(total * BigInt(s.task.thresholdBps) + 9_999n) / 10_000n}; ` +
    `no valid signature from ${silent.length ? silent.join(', ') : 'nobody'}`
  );
}

/** A task's stub (one object per task id). */
export function taskQuorum(ns: DurableObjectNamespace<TaskQuorum>, taskId: string): DurableObjectStub<TaskQuorum> {
  return ns.get(ns.idFromName(taskId.toLowerCase()));
}
