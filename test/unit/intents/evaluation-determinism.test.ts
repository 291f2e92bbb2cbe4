import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex, hexToBytes } from 'viem';
import { aggregatePublicKeys, aggregateSignatures, verifySignature } from '../../../core/attestation';
import { compilePolicy } from '../../../core/rego';
import { evaluateVerdict, signTask } from '../../../signer-node/evaluate-task';
import { seededRandom } from '../../support/seeded-random';
import { KEYS, makeTask } from './task-fixtures';

const TIME_POLICY = `package proofgate.intent

import rego.v1

default allow := false

allow if time.now_ns() < data.params.notAfterNs
deny contains "too late" if time.now_ns() >= data.params.notAfterNs
`;

const DATA_POLICY = `package proofgate.intent

import rego.v1

default allow := false

allow if {
  some feed in data.wasm.feeds
  feed.asset == data.params.asset
  to_number(input.value) * feed.price <= data.params.budget
}
`;

describe('operator evaluation', () => {
  it('gives every operator the same verdict and digest over many generated intents and policies', () => {
    const next = seededRandom(42);
    const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    const addresses = [
      '0x000000000000000000000000000000000000dEaD',
      '0x2222222222222222222222222222222222222222',
      '0x3333333333333333333333333333333333333333',
    ];
    const verdicts = new Set<boolean>();
    for (let i = 0; i < 30; i++) {
      const policyKind = i % 2;
      const task = makeTask({
        taskId: bytesToHex(Uint8Array.from({ length: 32 }, () => int(0, 255))),
        policyId: bytesToHex(Uint8Array.from({ length: 32 }, () => int(0, 255))),
        intent: {
          from: '0x1111111111111111111111111111111111111111',
          to: addresses[int(0, 2)] as `0x${string}`,
          value: String(int(0, 10_000)),
          data: bytesToHex(Uint8Array.from({ length: int(0, 6) }, () => int(0, 255))),
          chainId: 31337,
        },
        ...(policyKind === 1
          ? { modules: { 'p.rego': DATA_POLICY }, params: { asset: 'ETH', budget: int(1, 20_000_000) } }
          : { params: { maxValue: int(0, 10_000), blocked: [addresses[int(0, 2)]] } }),
      });
      const policyData =
        policyKind === 1
          ? {
              feeds: [
                { asset: 'ETH', price: int(1, 3000) },
                { asset: 'BTC', price: 1 },
              ],
            }
          : {};
      // Each operator compiles the policy on its own.
      const replies = KEYS.map((key) => signTask(key.secretKey, compilePolicy(task.modules), task, policyData));
      for (const r of replies) {
        assert.equal(r.allowed, replies[0]!.allowed);
        assert.deepEqual(r.reasons, replies[0]!.reasons);
        assert.equal(r.digest, replies[0]!.digest);
      }
      verdicts.add(replies[0]!.allowed);
      const aggregate = aggregateSignatures(replies.map((r) => hexToBytes(r.signature)));
      assert.ok(verifySignature(aggregatePublicKeys(KEYS.map((k) => k.publicKey)), hexToBytes(replies[0]!.digest), aggregate));
    }
    assert.deepEqual([...verdicts].sort(), [false, true], 'the generated cases exercise both verdicts');
  });

  it('reads the clock from the task, never from the wall clock', () => {
    const policy = compilePolicy({ 'time.rego': TIME_POLICY });
    const notAfterNs = 1_800_000_100n * 1_000_000_000n;
    const early = makeTask({ modules: { 'time.rego': TIME_POLICY }, params: { notAfterNs: Number(notAfterNs) } });
    assert.deepEqual(evaluateVerdict(policy, early, {}), { allowed: true, reasons: [] });
    const late = { ...early, createdAt: 1_800_000_100 };
    assert.deepEqual(evaluateVerdict(policy, late, {}), { allowed: false, reasons: ['too late'] });
  });

  it('turns an undefined or failing policy into a deny with a reason', () => {
    const task = makeTask({ entrypoint: 'data.nothing.here' });
    assert.deepEqual(evaluateVerdict(compilePolicy(task.modules), task, {}), { allowed: false, reasons: ['not allowed by policy'] });
  });
});
