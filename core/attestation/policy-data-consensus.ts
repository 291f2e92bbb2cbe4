/**
 * Phase 1 of a task: from the PolicyData outputs the operators reported, fix the one value per
 * module that every operator then evaluates the policy on. Identical outputs win by stake
 * majority; numbers that differ (prices, balances) settle on their stake-weighted median when a
 * stake majority lies within the declared tolerance of it.
 */
import { canonicalJson } from '../canonical-json';
import { ProofgateError } from '../errors';

/** One operator's report for one module. */
export interface PolicyDataReport {
  operatorId: string;
  stake: bigint;
  /** The module's output, or undefined when it failed on that operator. */
  output: { ok: unknown } | { err: string };
}

/** No stake majority agrees on a module's output. */
export class PolicyDataConsensusError extends ProofgateError {
  constructor(name: string, detail: string) {
    super('policy_data_no_consensus', `PolicyData module "${name}": ${detail}`, 422);
  }
}

/**
 * The consensus output of one module among `reports` (one per responding operator). A majority is
 * more than half of `totalStake` (the stake of every operator asked, not only of those that
 * answered), so two disjoint sets can never both win. `toleranceBps` bounds |v - median| / |median|.
 */
export function policyDataConsensus(name: string, reports: readonly PolicyDataReport[], totalStake: bigint, toleranceBps = 0): unknown {
  const groups = new Map<string, { value: unknown; stake: bigint }>();
  for (const report of reports) {
    if (!('ok' in report.output)) continue;
    const key = canonicalJson(report.output.ok);
    const group = groups.get(key) ?? { value: report.output.ok, stake: 0n };
    group.stake += report.stake;
    groups.set(key, group);
  }
  for (const group of groups.values()) if (group.stake * 2n > totalStake) return group.value;

  const numeric = reports.flatMap((r) =>
    'ok' in r.output && typeof r.output.ok === 'number' && Number.isFinite(r.output.ok) ? [{ value: r.output.ok, stake: r.stake }] : [],
  );
  if (numeric.length > 0) {
    const median = weightedMedian(numeric);
    const within = numeric.filter((n) => Math.abs(n.value - median) * 10_000 <= Math.abs(median) * toleranceBps);
    const agreeing = within.reduce((sum, n) => sum + n.stake, 0n);
    if (agreeing * 2n > totalStake) return median;
  }
  const failed = reports.filter((r) => !('ok' in r.output)).length;
  throw new PolicyDataConsensusError(
    name,
    `no stake majority agrees (${groups.size} distinct outputs, ${failed} failures, ${reports.length} reports)`,
  );
}

/** The lower stake-weighted median: the smallest value at which the cumulative stake reaches half. */
export function weightedMedian(values: readonly { value: number; stake: bigint }[]): number {
  const sorted = [...values].sort((a, b) => a.value - b.value);
  const total = sorted.reduce((sum, v) => sum + v.stake, 0n);
  let cumulative = 0n;
  for (const v of sorted) {
    cumulative += v.stake;
    if (cumulative * 2n >= total) return v.value;
  }
  return sorted[sorted.length - 1]!.value;
}
