import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex, encodeAbiParameters, hexToBytes, keccak256, stringToBytes, type Hex } from 'viem';
import {
  INFERENCE_ATTESTATION_TYPEHASH,
  computeInferenceDigest,
  inferenceAttestationSchema,
  isInferenceAttestationClaim,
  toleranceBits,
  verifyInferenceAttestation,
  type InferenceAttestation,
} from '../../../core/attestation';
import { NOW } from '../attestation/fixtures';
import { QUORUM_OPERATORS, QUORUM_REGISTRY, inferenceRequest, signInference } from './fixtures';

const [op1, op2, op3] = QUORUM_OPERATORS as [(typeof QUORUM_OPERATORS)[0], (typeof QUORUM_OPERATORS)[0], (typeof QUORUM_OPERATORS)[0]];
const options = { now: NOW, requiredThresholdBps: 6700 };

describe('inference attestation digest', () => {
  it('is keccak256 of the abi encoding of the typehash and the signed fields, tolerances as binary64 bits', () => {
    const r = inferenceRequest();
    const expected = keccak256(
      encodeAbiParameters(
        ['bytes32', 'bytes32', 'bytes32', 'bytes32', 'bytes32', 'uint256', 'uint64', 'uint64', 'uint64', 'uint16', 'address', 'uint64'].map(
          (type) => ({ type }),
        ),
        [
          keccak256(stringToBytes('Proofgate.InferenceAttestation.v1')),
          r.requestId,
          r.modelSha256,
          r.inputHash,
          r.outputHash,
          31337n,
          BigInt(r.expiration),
          0x3ee4f8b588e368f1n, // 1e-5
          0x3f50624dd2f1a9fcn, // 1e-3
          6700,
          r.registry,
          BigInt(r.registryBlock),
        ],
      ),
    );
    assert.equal(INFERENCE_ATTESTATION_TYPEHASH, keccak256(stringToBytes('Proofgate.InferenceAttestation.v1')));
    assert.equal(computeInferenceDigest(r), expected);
  });

  it('changes with every signed field', () => {
    const base = computeInferenceDigest(inferenceRequest());
    const changes = [
      { requestId: `0x${'a2'.repeat(32)}` as Hex },
      { modelSha256: `0x${'b3'.repeat(32)}` as Hex },
      { inputHash: `0x${'c4'.repeat(32)}` as Hex },
      { outputHash: `0x${'d5'.repeat(32)}` as Hex },
      { chainId: 1 },
      { expiration: Number(NOW) + 601 },
      { tolerance: { absolute: 2e-5, relative: 1e-3 } },
      { tolerance: { absolute: 1e-5, relative: 2e-3 } },
      { thresholdBps: 5000 },
      { registry: '0x00000000000000000000000000000000000000e8' as const },
      { registryBlock: 43 },
    ];
    for (const change of changes) assert.notEqual(computeInferenceDigest(inferenceRequest(change)), base, JSON.stringify(change));
  });

  it('orders tolerance bits like the tolerances, with -0 as 0', () => {
    const values = [0, 1e-300, 1e-9, 1e-5, 0.5, 1, 3, 1e10];
    for (let i = 1; i < values.length; i++) assert.ok(toleranceBits(values[i - 1]!) < toleranceBits(values[i]!));
    assert.equal(toleranceBits(-0), 0n);
    assert.throws(() => toleranceBits(-1e-9), /tolerance/);
    assert.throws(() => toleranceBits(Number.POSITIVE_INFINITY), /tolerance/);
  });
});

describe('verifyInferenceAttestation', () => {
  const request = inferenceRequest();
  const attestation = signInference(request);

  it('accepts what a quorum signed, and names the snapshot, stakes and signers', () => {
    assert.equal(attestation.kind, 'inference');
    assert.ok(isInferenceAttestationClaim(attestation));
    assert.deepEqual(attestation.signers, ['operator-1', 'operator-2', 'operator-3']);
    assert.deepEqual(attestation.nonSigners, []);
    assert.equal(attestation.signedStake, '100');
    assert.equal(attestation.totalStake, '100');
    assert.deepEqual(verifyInferenceAttestation(attestation, QUORUM_REGISTRY, options), { valid: true, reasons: [] });
    const expectations = {
      ...options,
      expectedChainId: 31337,
      expectedModelSha256: request.modelSha256,
      expectedInputHash: request.inputHash,
      expectedOutputHash: request.outputHash,
      maxTolerance: { absolute: 1e-5, relative: 1e-3 },
    };
    assert.deepEqual(verifyInferenceAttestation(attestation, QUORUM_REGISTRY, expectations), { valid: true, reasons: [] });
    assert.ok(inferenceAttestationSchema.safeParse(JSON.parse(JSON.stringify(attestation))).success, 'survives JSON');
  });

  it('refuses a changed output hash, model, chain, expiry, signer list or signature', () => {
    const redigest = (a: InferenceAttestation): InferenceAttestation => ({ ...a, digest: computeInferenceDigest(a) });
    const sig = hexToBytes(attestation.aggregateSignature);
    sig[40] = sig[40]! ^ 1;
    const cases: [Partial<InferenceAttestation>, string][] = [
      [{ outputHash: `0x${'d5'.repeat(32)}` }, 'invalid_signature'],
      [{ modelSha256: `0x${'b3'.repeat(32)}` }, 'invalid_signature'],
      [{ chainId: 1 }, 'invalid_signature'],
      [{ expiration: attestation.expiration + 60 }, 'invalid_signature'],
      [{ tolerance: { absolute: 1, relative: 1 } }, 'invalid_signature'],
      [{ thresholdBps: 9000 }, 'invalid_signature'],
      [{ signers: ['operator-1', 'operator-2'], nonSigners: ['operator-3'], signedStake: '80' }, 'invalid_signature'],
      [{ signers: ['operator-1', 'operator-2', 'operator-3', 'operator-4'] }, 'unknown_signer'],
      [{ aggregateSignature: bytesToHex(sig) }, 'invalid_signature'],
    ];
    for (const [change, reason] of cases) {
      const changed = redigest({ ...attestation, ...change });
      const verdict = verifyInferenceAttestation(changed, QUORUM_REGISTRY, options);
      assert.equal(verdict.valid, false, JSON.stringify(change));
      assert.ok(verdict.reasons.includes(reason as never), `${JSON.stringify(change)}: ${verdict.reasons}`);
      // Left unrecomputed, the digest itself gives the change away.
      if (!('aggregateSignature' in change) && !('signers' in change)) {
        assert.ok(verifyInferenceAttestation({ ...attestation, ...change }, QUORUM_REGISTRY, options).reasons.includes('digest_mismatch'));
      }
    }
  });

  it("checks the relying party's expectations: output, model, input, chain, quorum, tolerance, time, single use", () => {
    const other: Hex = `0x${'ee'.repeat(32)}`;
    const reasonsFor = (o: Partial<Parameters<typeof verifyInferenceAttestation>[2]>) =>
      verifyInferenceAttestation(attestation, QUORUM_REGISTRY, { ...options, ...o }).reasons;
    assert.deepEqual(reasonsFor({ expectedOutputHash: other }), ['output_hash_mismatch']);
    assert.deepEqual(reasonsFor({ expectedModelSha256: other }), ['model_mismatch']);
    assert.deepEqual(reasonsFor({ expectedInputHash: other }), ['input_hash_mismatch']);
    assert.deepEqual(reasonsFor({ expectedChainId: 1 }), ['chain_id_mismatch']);
    assert.deepEqual(reasonsFor({ requiredThresholdBps: 8000 }), ['threshold_too_low']);
    assert.deepEqual(reasonsFor({ maxTolerance: { absolute: 0, relative: 0 } }), ['tolerance_too_loose']);
    assert.deepEqual(reasonsFor({ now: BigInt(attestation.expiration) + 1n }), ['expired']);
    assert.deepEqual(reasonsFor({ consumed: (d) => d === attestation.digest }), ['already_consumed']);
  });

  it('counts only the stake that signed: 30 + 20 of 100 is no 67 % quorum', () => {
    const short = signInference(request, [op2, op3]);
    assert.equal(short.signedStake, '50');
    assert.deepEqual(short.nonSigners, ['operator-1']);
    assert.deepEqual(verifyInferenceAttestation(short, QUORUM_REGISTRY, options).reasons, ['quorum_not_met']);
    const enough = signInference(request, [op1, op2]);
    assert.deepEqual(verifyInferenceAttestation(enough, QUORUM_REGISTRY, options), { valid: true, reasons: [] });
  });

  it('judges by the snapshot the attestation names, and refuses malformed input', () => {
    const elsewhere = { ...QUORUM_REGISTRY, blockNumber: QUORUM_REGISTRY.blockNumber + 1 };
    assert.ok(verifyInferenceAttestation(attestation, elsewhere, options).reasons.includes('registry_snapshot_mismatch'));
    assert.deepEqual(verifyInferenceAttestation({ ...attestation, extra: 1 }, QUORUM_REGISTRY, options).reasons, ['malformed_attestation']);
    assert.deepEqual(verifyInferenceAttestation({ ...attestation, kind: undefined }, QUORUM_REGISTRY, options).reasons, ['malformed_attestation']);
    assert.deepEqual(verifyInferenceAttestation(null, QUORUM_REGISTRY, options).reasons, ['malformed_attestation']);
    assert.deepEqual(verifyInferenceAttestation({ ...attestation, tolerance: { absolute: -1, relative: 0 } }, QUORUM_REGISTRY, options).reasons, [
      'malformed_attestation',
    ]);
  });
});
