import { activeOperators, meetsQuorum, parseStake, registryTotalStake, type OperatorRegistry } from '../../../core/attestation';
import { ProofgateError } from '../../../core/errors';
import type { PoolSnapshot } from '../../../durable-objects/backend-pool';
import type { RouteChoice } from '../pool-routing';

/** One operator a quorum call may run on: its stake in the snapshot, and its least loaded backend that serves the model. */
export interface OperatorCandidate {
  operatorId: string;
  stake: bigint;
  route: RouteChoice;
}

/** Fewer distinct operators than asked have a healthy backend for the model. */
export class NotEnoughOperatorsError extends ProofgateError {
  constructor(model: string, requested: number, available: number) {
    super(
      'not_enough_operators',
      `a quorum of ${requested} distinct operators was asked for, but ${available} staked operator(s) have a healthy backend serving model "${model}"`,
      503,
      { requested, available, retryAfterSeconds: 5 },
    );
  }
}

/** Even the asked number of operators holding the most stake could not make the model's quorum. */
export class QuorumUnreachableError extends ProofgateError {
  constructor(requested: number, stake: bigint, total: bigint, thresholdBps: number) {
    super(
      'quorum_unreachable',
      `the ${requested} operators with the most stake that serve this model hold ${stake} of ${total}; the model's quorum needs ${thresholdBps} bps`,
      503,
      { requested, thresholdBps, retryAfterSeconds: 5 },
    );
  }
}

/**
 * The operators a quorum call may run on, most stake first (ties by id): members of the registry
 * snapshot (positive stake) with a healthy, non-draining backend serving the model whose attachment
 * was signed by the very key the chain lists for that operator. One entry per operator, never per
 * process: an operator's several backends are one vote, so its least loaded one is the candidate.
 */
export function quorumCandidates(snapshot: PoolSnapshot, registry: OperatorRegistry, modelSha256: string): OperatorCandidate[] {
  const members = new Map(activeOperators(registry).map((o) => [o.id, o]));
  const best = new Map<string, { load: number; candidate: OperatorCandidate }>();
  for (const m of snapshot.members) {
    if (!m.healthy || m.draining || !m.operator) continue;
    if (m.models !== '*' && !m.models.includes(modelSha256)) continue;
    const member = members.get(m.operator.id);
    if (!member || member.blsPublicKey.toLowerCase() !== m.operator.blsPublicKey.toLowerCase()) continue;
    const load = m.inFlight + m.queueDepth;
    const kept = best.get(member.id);
    if (kept && (kept.load < load || (kept.load === load && kept.candidate.route.id < m.id))) continue;
    best.set(member.id, {
      load,
      candidate: {
        operatorId: member.id,
        stake: parseStake(member.stake)!,
        route: { id: m.id, address: m.address, url: m.url, executionProvider: m.executionProvider },
      },
    });
  }
  return [...best.values()]
    .map((b) => b.candidate)
    .sort((a, b) => (a.stake === b.stake ? a.operatorId.localeCompare(b.operatorId) : a.stake > b.stake ? -1 : 1));
}

/**
 * Checks before any payment or work that `k` distinct operators can run the call and that, agreeing,
 * they could make the model's quorum: 503 `not_enough_operators` or `quorum_unreachable` otherwise.
 */
export function checkQuorumReachable(
  candidates: readonly OperatorCandidate[],
  registry: OperatorRegistry,
  k: number,
  thresholdBps: number,
  model: string,
): void {
  if (candidates.length < k) throw new NotEnoughOperatorsError(model, k, candidates.length);
  const stake = candidates.slice(0, k).reduce((sum, c) => sum + c.stake, 0n);
  const total = registryTotalStake(registry);
  if (!meetsQuorum(stake, total, thresholdBps)) throw new QuorumUnreachableError(k, stake, total, thresholdBps);
}
