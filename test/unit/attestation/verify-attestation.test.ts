import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hexToBytes, bytesToHex, type Hex } from 'viem';
import { emptyRegistry, meetsQuorum, verifyAttestation, type OperatorRegistry } from '../../../core/attestation';
import {
  NOW,
  OPERATORS,
  POLICY_CLIENT,
  POLICY_ID,
  REGISTRY,
  REGISTRY_BLOCK,
  THRESHOLD_BPS,
  makeOperator,
  makeRegistry,
  makeRequest,
  rehash,
  signAttestation,
} from './fixtures';

const registry = makeRegistry();
const [op1, op2, op3, op4] = OPERATORS as [(typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0]];
// op-2, op-3 and op-4 hold 900 of 1000 stake.
const valid = signAttestation(makeRequest(), [op2, op3, op4], registry);
const options = {
  now: NOW,
  policyThresholdBps: THRESHOLD_BPS,
  expectedChainId: 31337,
  expectedPolicyId: POLICY_ID,
  expectedPolicyClient: POLICY_CLIENT,
};

function check(attestation: unknown, reg: OperatorRegistry = registry, extra: Partial<typeof options> & Record<string, unknown> = {}) {
  return verifyAttestation(attestation, reg, { ...options, ...extra });
}

function assertRefused(attestation: unknown, ...expected: string[]) {
  const result = check(attestation);
  assert.equal(result.valid, false);
  for (const reason of expected) assert.ok(result.reasons.includes(reason as never), `${reason} in ${result.reasons.join(',')}`);
}

describe('verifyAttestation', () => {
  it('accepts a quorum-signed attestation and reports recomputed stakes', () => {
    assert.deepEqual(check(valid), { valid: true, reasons: [] });
    assert.deepEqual(valid.signers, ['op-2', 'op-3', 'op-4']);
    assert.deepEqual(valid.nonSigners, ['op-1']);
    assert.equal(valid.signedStake, '900');
    assert.equal(valid.totalStake, '1000');
    // Round-trips through JSON unchanged: the document is plain data.
    assert.deepEqual(check(JSON.parse(JSON.stringify(valid))), { valid: true, reasons: [] });
  });

  it('flipping `allowed` breaks the digest and, re-hashed, the signature', () => {
    assertRefused({ ...valid, allowed: false }, 'digest_mismatch', 'invalid_signature');
    assert.deepEqual(check(rehash({ ...valid, allowed: false }), registry, { requireAllowed: false }).reasons, ['invalid_signature']);
    const denied = signAttestation(makeRequest({ allowed: false, reasons: ['sanctioned recipient'] }), [op2, op3, op4], registry);
    assert.deepEqual(check(denied).reasons, ['not_allowed']);
    assert.deepEqual(check(denied, registry, { requireAllowed: false }), { valid: true, reasons: [] });
    assert.deepEqual(check(rehash({ ...denied, allowed: true })).reasons, ['invalid_signature']);
  });

  it('changing the chain id fails, even with the intent and hashes made consistent', () => {
    const moved = rehash({ ...valid, chainId: 1, intent: { ...valid.intent, chainId: 1 } });
    assert.deepEqual(check(moved, registry, { expectedChainId: 1 }).reasons, ['invalid_signature']);
    assert.deepEqual(check(valid, registry, { expectedChainId: 1 }).reasons, ['chain_id_mismatch']);
    assertRefused({ ...valid, intent: { ...valid.intent, chainId: 1 } }, 'intent_chain_mismatch', 'intent_hash_mismatch');
  });

  it('changing the policy id or policy client fails', () => {
    const other: Hex = `0x${'cd'.repeat(32)}`;
    assert.deepEqual(check(rehash({ ...valid, policyId: other }), registry, { expectedPolicyId: other }).reasons, ['invalid_signature']);
    assert.deepEqual(check(valid, registry, { expectedPolicyId: other }).reasons, ['policy_id_mismatch']);
    const client = '0x00000000000000000000000000000000000000c2';
    assert.deepEqual(check(valid, registry, { expectedPolicyClient: client }).reasons, ['policy_client_mismatch']);
    assert.deepEqual(check(valid, registry, { expectedPolicyDataHash: other }).reasons, ['policy_data_hash_mismatch']);
  });

  describe('changing the expiration or any intent field fails', () => {
    it('a changed expiration no longer matches the digest', () => {
      assertRefused({ ...valid, expiration: valid.expiration + 1 }, 'digest_mismatch');
    });

    it('a changed expiration, re-hashed, breaks the signature', () => {
      assert.deepEqual(check(rehash({ ...valid, expiration: valid.expiration + 3600 })).reasons, ['invalid_signature']);
    });

    it('a changed intent no longer matches the intent hash', () => {
      assertRefused({ ...valid, intent: { ...valid.intent, value: '1000000000000000001' } }, 'intent_hash_mismatch');
    });

    const changedIntents: [string, typeof valid.intent][] = [
      ['value', { ...valid.intent, value: '1000000000000000001' }],
      ['to', { ...valid.intent, to: '0x2222222222222222222222222222222222222223' as const }],
      ['data', { ...valid.intent, data: '0xa9059cbc' as const }],
    ];
    for (const [field, intent] of changedIntents) {
      it(`a changed intent ${field}, re-hashed, breaks the signature`, () => {
        assert.deepEqual(check(rehash({ ...valid, intent })).reasons, ['invalid_signature']);
      });
    }

    it('a changed task id, re-hashed, breaks the signature', () => {
      assert.deepEqual(check(rehash({ ...valid, taskId: `0x${'02'.repeat(32)}` })).reasons, ['invalid_signature']);
    });
  });

  it('flipping any single signature byte fails', () => {
    const signature = hexToBytes(valid.aggregateSignature);
    for (const index of [0, 1, 47, 48, 95]) {
      const tampered = signature.slice();
      tampered[index]! ^= 0x01;
      const result = check({ ...valid, aggregateSignature: bytesToHex(tampered) });
      assert.equal(result.valid, false, `byte ${index}`);
      assert.deepEqual(result.reasons, ['invalid_signature']);
    }
  });

  describe('editing the signer list fails', () => {
    it('claiming op-1 signed too (stakes made consistent): the aggregate key no longer matches', () => {
      const extended = { ...valid, signers: ['op-1', ...valid.signers], nonSigners: [], signedStake: '1000' };
      assert.deepEqual(check(extended).reasons, ['invalid_signature']);
    });

    it('dropping op-4 (stakes made consistent): 500/1000 misses quorum and the key does not match', () => {
      const dropped = { ...valid, signers: ['op-2', 'op-3'], nonSigners: ['op-1', 'op-4'], signedStake: '500' };
      assert.deepEqual(check(dropped).reasons.sort(), ['invalid_signature', 'quorum_not_met']);
    });

    const edits: [string, unknown, string][] = [
      ['a signer listed twice', { ...valid, signers: [...valid.signers, 'op-4'] }, 'duplicate_signer'],
      ['a signer not in the registry', { ...valid, signers: [...valid.signers, 'op-9'] }, 'unknown_signer'],
      ['non-signers left out', { ...valid, nonSigners: [] }, 'non_signers_mismatch'],
      ['the signed stake inflated', { ...valid, signedStake: '1000' }, 'signed_stake_mismatch'],
      ['the total stake changed', { ...valid, totalStake: '900' }, 'total_stake_mismatch'],
      ['no signer at all', { ...valid, signers: [], nonSigners: OPERATORS.map((o) => o.id), signedStake: '0' }, 'no_signers'],
    ];
    for (const [name, edited, reason] of edits) {
      it(`${name}: ${reason}`, () => {
        assertRefused(edited, reason);
      });
    }
  });

  it('an attestation is refused after its expiration and accepted up to it', () => {
    assert.deepEqual(check(valid, registry, { now: BigInt(valid.expiration) }), { valid: true, reasons: [] });
    assert.deepEqual(check(valid, registry, { now: BigInt(valid.expiration) + 1n }).reasons, ['expired']);
  });

  it('single use: a consumed digest is refused', () => {
    const consumed = new Set<string>([valid.digest]);
    assert.deepEqual(check(valid, registry, { consumed: (d: Hex) => consumed.has(d) }).reasons, ['already_consumed']);
  });

  describe("quorum is the policy's, committed in the digest: the attestation's own thresholdBps counts for nothing", () => {
    // op-1, op-3 and op-4 hold 800 of 1000 stake; the policy asks 90 %.
    const policy90 = { policyThresholdBps: 9000 };
    const eighty = [op1, op3, op4];
    const honest = signAttestation(makeRequest({ thresholdBps: 9000 }), eighty, registry);
    const lowered = signAttestation(makeRequest({ thresholdBps: 6667 }), eighty, registry);

    it("signed with the policy's threshold: 80 % is not 90 %", () => {
      assert.deepEqual(check(honest, registry, policy90).reasons, ['quorum_not_met']);
    });

    it("signed (by the colluding 80 %) with a lower threshold than the policy's: refused for that alone", () => {
      assert.deepEqual(check(lowered, registry, policy90).reasons.sort(), ['quorum_not_met', 'threshold_mismatch']);
    });

    it('... and even where its stake would meet the lower quorum it claims', () => {
      assert.deepEqual(check(lowered, registry, { policyThresholdBps: 7000 }).reasons, ['threshold_mismatch']);
    });

    it('the holder lowering the field: the digest no longer matches', () => {
      assert.deepEqual(check({ ...honest, thresholdBps: 6667 }, registry, policy90).reasons.sort(), [
        'digest_mismatch',
        'invalid_signature',
        'quorum_not_met',
        'threshold_mismatch',
      ]);
    });

    it('the holder lowering the field, re-hashed: the signature does not match', () => {
      assert.deepEqual(check(rehash({ ...honest, thresholdBps: 6667 }), registry, { policyThresholdBps: 6667 }).reasons, ['invalid_signature']);
    });

    it('90 % signed under the 90 % policy verifies', () => {
      const ninety = signAttestation(makeRequest({ thresholdBps: 9000 }), [op2, op3, op4], registry);
      assert.deepEqual(check(ninety, registry, policy90), { valid: true, reasons: [] });
    });

    it('600 of 1000 misses the default quorum', () => {
      const minority = signAttestation(makeRequest(), [op1, op2, op3], registry);
      assert.deepEqual(check(minority).reasons, ['quorum_not_met']);
    });

    it('meetsQuorum is met exactly at the threshold, not below', () => {
      assert.equal(meetsQuorum(6000n, 10000n, 6000), true);
      assert.equal(meetsQuorum(5999n, 10000n, 6000), false);
    });
  });

  describe('zero total stake, zero-stake operators and empty registries never make a quorum', () => {
    const cases: [string, bigint, bigint, number][] = [
      ['nothing of nothing', 0n, 0n, 1],
      ['nothing of some stake', 0n, 10n, 1],
      ['a zero threshold', 10n, 10n, 0],
    ];
    for (const [name, signed, total, thresholdBps] of cases) {
      it(`meetsQuorum is false for ${name}`, () => {
        assert.equal(meetsQuorum(signed, total, thresholdBps), false);
      });
    }

    it("an operator at zero stake in the snapshot is no member: its signature is an unknown signer's", () => {
      const zeroed = makeRegistry(OPERATORS.map((o) => (o.id === 'op-4' ? { ...o, stake: 0n } : o)));
      const result = check(valid, zeroed);
      assert.ok(result.reasons.includes('unknown_signer'), result.reasons.join());
      assert.ok(result.reasons.includes('total_stake_mismatch'));
    });

    // Every stake zero: nothing verifies, not even a "full" signer set over a zero total.
    const nobody = makeRegistry(OPERATORS.map((o) => ({ ...o, stake: 0n })));
    const allSigned = signAttestation(makeRequest(), OPERATORS, registry);
    const claimZero = { ...allSigned, signers: [], nonSigners: [], signedStake: '0', totalStake: '0' };

    it('every stake zero: a claim of zero signers over a zero total is refused', () => {
      assert.deepEqual(check(claimZero, nobody).reasons.sort(), ['no_signers', 'quorum_not_met']);
    });

    it('every stake zero: a full signer set is refused', () => {
      assert.equal(check(allSigned, nobody).valid, false);
    });

    it('an empty registry: a claim of zero signers is refused', () => {
      const empty = emptyRegistry(REGISTRY, REGISTRY_BLOCK);
      assert.deepEqual(check(claimZero, empty).reasons.sort(), ['no_signers', 'quorum_not_met']);
    });

    it('a registry of one zero-stake operator that signed alone', () => {
      const lone = makeOperator('lone', 9, 0n);
      const loneRegistry = makeRegistry([lone]);
      const loneSigned = { ...allSigned, signers: ['lone'], nonSigners: [], signedStake: '0', totalStake: '0' };
      assert.ok(check(loneSigned, loneRegistry).reasons.includes('quorum_not_met'));
    });
  });

  it('is judged only against the registry snapshot it names', () => {
    const later = makeRegistry(OPERATORS, REGISTRY_BLOCK + 1);
    assert.deepEqual(check(valid, later).reasons, ['registry_snapshot_mismatch']);
    const elsewhere: OperatorRegistry = { ...registry, address: '0x00000000000000000000000000000000000000e8' };
    assert.deepEqual(check(valid, elsewhere).reasons, ['registry_snapshot_mismatch']);
    // Moving the attestation to another block (re-hashed) breaks the signature.
    assert.deepEqual(check(rehash({ ...valid, registryBlock: REGISTRY_BLOCK + 1 }), later).reasons, ['invalid_signature']);
  });

  describe('malformed documents are refused with malformed_attestation', () => {
    const malformed: [string, unknown][] = [
      ['null', null],
      ['a string', 'x'],
      ['an empty object', {}],
      ['a chain id as a string', { ...valid, chainId: '31337' }],
      ['an extra field', { ...valid, extra: 1 }],
      ['a short signature', { ...valid, aggregateSignature: '0x00' }],
    ];
    for (const [name, bad] of malformed) {
      it(name, () => {
        assert.deepEqual(check(bad), { valid: false, reasons: ['malformed_attestation'] });
      });
    }
  });
});
