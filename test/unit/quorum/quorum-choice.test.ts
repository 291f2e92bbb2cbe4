import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex } from 'viem';
import { ProofgateError } from '../../../core/errors';
import type { PoolMember, PoolSnapshot } from '../../../durable-objects/backend-pool';
import { DEFAULT_QUORUM_THRESHOLD_BPS, checkQuorumTerms } from '../../../workers/hub/quorum-terms';
import { callMode } from '../../../workers/inference/quorum/mode';
import { checkQuorumReachable, quorumCandidates } from '../../../workers/inference/quorum/selection';
import { QUORUM_OPERATORS, QUORUM_REGISTRY } from './fixtures';

const MODEL = `0x${'ab'.repeat(32)}`;
const keyOf = (i: number) => bytesToHex(QUORUM_OPERATORS[i]!.publicKey);

function member(id: string, operator: { id: string; blsPublicKey: string } | null, o: Partial<PoolMember> = {}): PoolMember {
  return {
    id,
    address: `0x${id.padStart(40, '0')}`,
    url: `http://${id}`,
    executionProvider: 'cpu',
    models: '*',
    operator,
    healthy: true,
    lastHeartbeatAt: 0,
    coolingDownUntil: null,
    inFlight: 0,
    queueDepth: 0,
    queueCapacity: 64,
    draining: false,
    ...o,
  };
}

const code = (expected: string) => (err: unknown) => err instanceof ProofgateError && err.code === expected;

describe('the mode a call asks for', () => {
  const mode = (query: string) => callMode(new URL(`https://gw.example/v1/models/m/infer${query}`));

  it('is a single backend without mode, a quorum of k (default 2) with mode=quorum', () => {
    assert.deepEqual(mode(''), { kind: 'single' });
    assert.deepEqual(mode('?mode=quorum'), { kind: 'quorum', k: 2 });
    assert.deepEqual(mode('?mode=quorum&k=3'), { kind: 'quorum', k: 3 });
  });

  it('answers 501 for tee and zkml, 400 for anything else', () => {
    assert.throws(
      () => mode('?mode=tee'),
      (e) => code('tee_not_available')(e) && (e as ProofgateError).status === 501,
    );
    assert.throws(
      () => mode('?mode=zkml'),
      (e) => code('zkml_not_available')(e) && (e as ProofgateError).status === 501,
    );
    for (const q of ['?mode=fast', '?k=2', '?mode=quorum&k=1', '?mode=quorum&k=17', '?mode=quorum&k=2.5', '?mode=quorum&k=-3', '?mode=quorum&k=']) {
      assert.throws(
        () => mode(q),
        (e) => e instanceof ProofgateError && e.status === 400,
        q,
      );
    }
  });
});

describe("a model's quorum terms at upload", () => {
  const terms = (query: string) => checkQuorumTerms(new URLSearchParams(query));

  it('default to two thirds of stake and identical outputs', () => {
    assert.deepEqual(terms(''), { thresholdBps: DEFAULT_QUORUM_THRESHOLD_BPS, tolerance: { absolute: 0, relative: 0 } });
    assert.deepEqual(terms('quorumBps=9000&absTolerance=1e-5&relTolerance=0.001'), {
      thresholdBps: 9000,
      tolerance: { absolute: 1e-5, relative: 0.001 },
    });
  });

  it('refuse what is not a quorum in basis points or a finite tolerance ≥ 0', () => {
    for (const q of ['quorumBps=0', 'quorumBps=10001', 'quorumBps=50.5', 'quorumBps=abc']) assert.throws(() => terms(q), code('invalid_quorum'), q);
    for (const q of ['absTolerance=-1', 'absTolerance=Infinity', 'relTolerance=NaN', 'relTolerance=0x10', 'absTolerance=1e999', 'absTolerance=']) {
      assert.throws(() => terms(q), code('invalid_tolerance'), q);
    }
  });
});

describe('choosing the operators of a quorum call', () => {
  const snapshot = (members: PoolMember[]): PoolSnapshot => ({ takenAt: 0, members });

  it('counts operators, not processes: one backend each, the least loaded, most stake first', () => {
    const candidates = quorumCandidates(
      snapshot([
        member('a', { id: 'operator-3', blsPublicKey: keyOf(2) }),
        member('b', { id: 'operator-1', blsPublicKey: keyOf(0) }, { queueDepth: 3 }),
        member('c', { id: 'operator-1', blsPublicKey: keyOf(0) }, { queueDepth: 1 }),
        member('d', { id: 'operator-2', blsPublicKey: keyOf(1) }),
      ]),
      QUORUM_REGISTRY,
      MODEL,
    );
    assert.deepEqual(
      candidates.map((c) => [c.operatorId, c.route.id, c.stake]),
      [
        ['operator-1', 'c', 50n],
        ['operator-2', 'd', 30n],
        ['operator-3', 'a', 20n],
      ],
    );
  });

  it('leaves out backends whose attachment key is not the key the chain lists, unattached, unhealthy, draining or not serving the model', () => {
    const candidates = quorumCandidates(
      snapshot([
        member('a', { id: 'operator-1', blsPublicKey: keyOf(1) }),
        member('b', null),
        member('c', { id: 'operator-2', blsPublicKey: keyOf(1) }, { healthy: false }),
        member('d', { id: 'operator-2', blsPublicKey: keyOf(1) }, { draining: true }),
        member('e', { id: 'operator-3', blsPublicKey: keyOf(2) }, { models: [`0x${'cd'.repeat(32)}`] }),
        member('f', { id: 'operator-9', blsPublicKey: keyOf(2) }),
      ]),
      QUORUM_REGISTRY,
      MODEL,
    );
    assert.deepEqual(candidates, []);
  });

  it('refuses before any work when too few operators serve the model, or k of them could not make the quorum', () => {
    const all = quorumCandidates(
      snapshot([
        member('a', { id: 'operator-1', blsPublicKey: keyOf(0) }),
        member('b', { id: 'operator-2', blsPublicKey: keyOf(1) }),
        member('c', { id: 'operator-3', blsPublicKey: keyOf(2) }),
      ]),
      QUORUM_REGISTRY,
      MODEL,
    );
    checkQuorumReachable(all, QUORUM_REGISTRY, 2, 6700, 'm');
    checkQuorumReachable(all, QUORUM_REGISTRY, 3, 10_000, 'm');
    assert.throws(
      () => checkQuorumReachable(all.slice(0, 2), QUORUM_REGISTRY, 3, 6700, 'm'),
      (e) => code('not_enough_operators')(e) && (e as ProofgateError).status === 503,
    );
    assert.throws(
      () => checkQuorumReachable(all.slice(1), QUORUM_REGISTRY, 2, 6700, 'm'),
      (e) => code('quorum_unreachable')(e) && (e as ProofgateError).status === 503,
    );
  });
});
