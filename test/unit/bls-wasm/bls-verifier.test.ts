import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import {
  BlsKeyError,
  attestationIfQuorum,
  countSignature,
  nobleBlsVerifier,
  signMessage,
  verifyAttestation,
  type BlsVerifier,
  type SignatureTally,
} from '../../../core/attestation';
import { createCachedBlsVerifier } from '../../../bls-wasm';
import { loadWasmBls } from '../../../bls-wasm/node';
import { OPERATORS, THRESHOLD_BPS, NOW, makeRegistry, makeRequest, rehash, signAttestation } from '../attestation/fixtures';
import { computePolicyDataHash } from '../../../core/attestation';
import { compilePolicy } from '../../../core/rego';
import { signTask } from '../../../signer-node/evaluate-task';
import { KEYS, makeTask, registry as taskRegistry } from '../intents/task-fixtures';

// The Worker and TaskQuorum verify with the WebAssembly build through core's BlsVerifier interface
// (decoded keys cached); every verdict must be the one @noble/curves gives.

let wasm: BlsVerifier;
before(async () => {
  wasm = createCachedBlsVerifier(await loadWasmBls(), { maxKeys: 2 });
});

describe('the cached WebAssembly BlsVerifier', () => {
  it('gives verifyAttestation the same verdicts as @noble/curves, over valid and tampered attestations', () => {
    const registry = makeRegistry();
    const [op1, op2, op3, op4] = OPERATORS as [(typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0], (typeof OPERATORS)[0]];
    const valid = signAttestation(makeRequest(), [op2, op3, op4], registry, wasm);
    const signature = hexToBytes(valid.aggregateSignature);
    signature[40]! ^= 1;
    const cases: unknown[] = [
      valid,
      rehash({ ...valid, allowed: false }),
      rehash({ ...valid, expiration: valid.expiration + 1 }),
      { ...valid, aggregateSignature: bytesToHex(signature) },
      { ...valid, signers: ['op-1', ...valid.signers], nonSigners: [], signedStake: '1000' },
      signAttestation(makeRequest(), [op1, op2, op3], registry),
      {
        ...valid,
        aggregateSignature: signAttestation(makeRequest({ taskId: `0x${'09'.repeat(32)}` }), [op2, op3, op4], registry).aggregateSignature,
      },
    ];
    // Three rounds: the key cache (two entries) is filled, evicted and refilled along the way.
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of cases.entries()) {
        const opts = { now: NOW, policyThresholdBps: THRESHOLD_BPS, requireAllowed: false };
        assert.deepEqual(verifyAttestation(c, registry, { ...opts, verifier: wasm }), verifyAttestation(c, registry, opts), `case ${i}`);
      }
    }
    assert.deepEqual(verifyAttestation(valid, registry, { now: NOW, policyThresholdBps: THRESHOLD_BPS, verifier: wasm }), {
      valid: true,
      reasons: [],
    });
  });

  it('aggregates byte-for-byte like noble, and refuses invalid keys the same way', () => {
    const message = new Uint8Array(32).fill(7);
    const signatures = OPERATORS.map((op) => signMessage(op.secretKey, message));
    assert.deepEqual(wasm.aggregateSignatures(signatures), nobleBlsVerifier.aggregateSignatures(signatures));
    const notAKey = `0x${'c0'.padEnd(96, '0')}` as Hex; // the identity: never a registered key
    for (const verifier of [wasm, nobleBlsVerifier]) {
      assert.throws(() => verifier.verifyAggregate([notAKey], message, signatures[0]!), BlsKeyError);
      assert.equal(verifier.verifyAggregate([], message, signatures[0]!), false);
    }
  });

  it('drives the task tally to the same attestation as noble', () => {
    const policy = compilePolicy(makeTask().modules);
    const replies = KEYS.map((k) => signTask(k.secretKey, policy, makeTask(), {}));
    const attestations = [nobleBlsVerifier, wasm].map((verifier) => {
      const tally: SignatureTally = { task: makeTask(), registry: taskRegistry(), policyDataHash: computePolicyDataHash({}), counted: [] };
      for (const [i, reply] of replies.entries()) assert.equal(countSignature(tally, `operator-${i + 1}`, reply, verifier), null);
      return attestationIfQuorum(tally, verifier);
    });
    assert.ok(attestations[0]);
    assert.deepEqual(attestations[1], attestations[0]);
  });
});
