import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PolicyDataConsensusError, policyDataConsensus, weightedMedian, type PolicyDataReport } from '../../../core/attestation';

const report = (operatorId: string, stake: bigint, output: PolicyDataReport['output']): PolicyDataReport => ({ operatorId, stake, output });

describe('policyDataConsensus', () => {
  it('takes the output a stake majority reported, whatever the key order', () => {
    const value = policyDataConsensus(
      'risk',
      [
        report('a', 50n, { ok: { blocked: ['0x1'], max: '10' } }),
        report('b', 30n, { ok: { max: '10', blocked: ['0x1'] } }),
        report('c', 20n, { ok: { blocked: [], max: '10' } }),
      ],
      100n,
    );
    assert.deepEqual(value, { blocked: ['0x1'], max: '10' });
  });

  it('refuses when no output holds more than half of all stake asked, failures and silence included', () => {
    const reports = [report('a', 40n, { ok: 'x' }), report('b', 30n, { ok: 'y' }), report('c', 30n, { err: 'timeout: too slow' })];
    assert.throws(
      () => policyDataConsensus('feed', reports, 100n),
      (e: unknown) => e instanceof PolicyDataConsensusError && e.code === 'policy_data_no_consensus',
    );
    // 50 of 100 is not a majority even if nobody disagrees: the silent half might have.
    assert.throws(() => policyDataConsensus('feed', [report('a', 50n, { ok: 1 })], 100n), PolicyDataConsensusError);
  });

  it('settles differing numbers on the stake-weighted median when a majority lies within the tolerance', () => {
    const reports = [report('a', 50n, { ok: 1834.25 }), report('b', 30n, { ok: 1834.5 }), report('c', 20n, { ok: 1900 })];
    assert.equal(policyDataConsensus('price', reports, 100n, 10), 1834.25);
    assert.throws(() => policyDataConsensus('price', reports, 100n, 0), PolicyDataConsensusError);
    const wide = [report('a', 34n, { ok: 100 }), report('b', 33n, { ok: 200 }), report('c', 33n, { ok: 300 })];
    assert.throws(() => policyDataConsensus('price', wide, 100n, 100), PolicyDataConsensusError);
  });

  it('computes the lower weighted median', () => {
    assert.equal(
      weightedMedian([
        { value: 3, stake: 1n },
        { value: 1, stake: 1n },
        { value: 2, stake: 1n },
      ]),
      2,
    );
    assert.equal(
      weightedMedian([
        { value: 10, stake: 60n },
        { value: 1, stake: 40n },
      ]),
      10,
    );
    assert.equal(
      weightedMedian([
        { value: 10, stake: 50n },
        { value: 1, stake: 50n },
      ]),
      1,
    );
  });
});
