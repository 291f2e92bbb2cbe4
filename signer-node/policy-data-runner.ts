import { createHash } from 'node:crypto';
import type { Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import { runPolicyData, PolicyDataError, type RunPolicyDataOptions } from './policy-data-sandbox';
import type { IntentTask, PolicyDataReply } from '../core/operator-protocol';

/** The input every PolicyData module of a task receives (as canonical JSON): the intent, as in Newton. */
export function policyDataInput(task: IntentTask): unknown {
  return task.intent;
}

/**
 * Phase 1 on an operator: fetches each PolicyData module of a task from the gateway by sha256
 * (checked, then kept in memory), runs it with bounded memory and time, and reports each output
 * or the error it ended with.
 */
export class PolicyDataRunner {
  private readonly modules = new Map<Hex, Uint8Array>();

  constructor(
    private readonly gatewayUrl: string,
    private readonly runOptions: RunPolicyDataOptions = {},
  ) {}

  /** Runs every module of the task (in parallel) and reports `{ok}` or `{err}` per module name. */
  async run(task: IntentTask): Promise<PolicyDataReply> {
    const input = policyDataInput(task);
    const entries = await Promise.all(
      task.policyData.map(async ({ name, sha256 }) => {
        try {
          const result = await runPolicyData(await this.module(sha256), input, this.runOptions);
          return [name, { ok: result.output }] as const;
        } catch (err) {
          const message = err instanceof PolicyDataError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
          return [name, { err: message.slice(0, 1024) }] as const;
        }
      }),
    );
    return { outputs: Object.fromEntries(entries) };
  }

  private async module(sha256: Hex): Promise<Uint8Array> {
    const cached = this.modules.get(sha256);
    if (cached) return cached;
    const res = await fetch(`${this.gatewayUrl}/v1/policy-data/${sha256}`, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new ProofgateError('policy_data_unavailable', `fetching PolicyData ${sha256} failed: HTTP ${res.status}`, 502);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const actual = `0x${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== sha256.toLowerCase())
      throw new ProofgateError('policy_data_unavailable', `PolicyData ${sha256} arrived with sha256 ${actual}`, 502);
    this.modules.set(sha256, bytes);
    return bytes;
  }
}
