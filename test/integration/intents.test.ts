import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { bytesToHex, hexToBytes, type Hex } from 'viem';
import {
  POP_DST,
  admitOperator,
  createProofOfPossession,
  generateKeyPair,
  signMessage,
  verifyAttestation,
  type Attestation,
  type OperatorRegistry,
} from '../../core/attestation';
import { registrationBody } from '../../signer-node/gateway-registration';
import { operatorKeyFromSecret } from '../../signer-node/operator-key';
import type { LocalStack } from '../../local-stack/launch';
import { launchOperators, type LaunchedOperator } from '../../local-stack/operators';
import { ProcessGroup } from '../../local-stack/process-group';
import { call, postJson } from '../support/gateway-client';
import { seededRandom } from '../support/seeded-random';
import { launchTestStack } from '../support/test-stack';
import { POLICY } from '../unit/intents/task-fixtures';

// A stack of its own (no backends, no models) with three operator processes staked 50/30/20, so
// this file controls the whole operator registry. Stopping operators comes last.

let stack: LocalStack;
let operators: LaunchedOperator[];
const group = new ProcessGroup();
before(async () => {
  stack = await launchTestStack({ backends: 0, models: [], payments: false });
  operators = await launchOperators({
    gateway: stack.gateway,
    adminToken: stack.adminToken,
    operatorToken: stack.operatorToken,
    stateDir: stack.stateDir,
    logsDir: stack.logsDir,
    group,
    stakes: [50n, 30n, 20n],
  });
});
after(async () => {
  await group.stopAll();
  await stack.stop();
});

const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });
const operatorAuth = () => ({ authorization: `Bearer ${stack.operatorToken}` });

const BLOCKED = '0x000000000000000000000000000000000000dEaD';

async function createPolicy(params: unknown, thresholdBps?: number): Promise<Hex> {
  const res = await postJson(
    `${stack.gateway}/v1/policies`,
    {
      modules: { 'authz.rego': POLICY },
      entrypoint: 'data.proofgate.authz',
      params,
      ...(thresholdBps ? { thresholdBps } : {}),
    },
    admin(),
  );
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.id as Hex;
}

function intent(overrides: Partial<{ from: string; to: string; value: string; data: string; chainId: number }> = {}) {
  return {
    from: '0x1111111111111111111111111111111111111111',
    to: '0x2222222222222222222222222222222222222222',
    value: '1000',
    data: '0x',
    chainId: 31337,
    ...overrides,
  };
}

/** The registry as any verifier builds it from GET /v1/operators: every key re-admitted with its proof of possession. */
async function registrySnapshot(): Promise<OperatorRegistry> {
  const { body } = await call(`${stack.gateway}/v1/operators`);
  let registry: OperatorRegistry = { operators: [] };
  for (const o of body.operators as { id: string; blsPublicKey: Hex; proofOfPossession: Hex; stake: string; status: string }[]) {
    if (o.status !== 'active') continue;
    registry = admitOperator(registry, { id: o.id, blsPublicKey: o.blsPublicKey, proofOfPossession: o.proofOfPossession, stake: o.stake });
  }
  return registry;
}

async function waitForTask(taskId: string, done: (view: any) => boolean, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await call(`${stack.gateway}/v1/tasks/${taskId}`);
    if (done(body) || Date.now() > deadline) return body;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('operator registry', () => {
  it('lists the three operators with their BLS keys, stakes and status', async () => {
    const { status, body } = await call(`${stack.gateway}/v1/operators`);
    assert.equal(status, 200);
    const byId = new Map((body.operators as any[]).map((o) => [o.id, o]));
    for (const launched of operators) {
      const listed = byId.get(launched.id);
      assert.equal(listed.blsPublicKey, launched.blsPublicKey);
      assert.equal(listed.stake, launched.stake);
      assert.equal(listed.status, 'active');
      assert.equal(listed.url, undefined, 'URLs are for admins only');
    }
    const asAdmin = await call(`${stack.gateway}/v1/operators`, { headers: admin() });
    assert.ok((asAdmin.body.operators as any[]).every((o) => typeof o.url === 'string'));
  });

  it('refuses a registration without a valid proof of possession', async () => {
    const key = operatorKeyFromSecret(generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey);
    const other = generateKeyPair(crypto.getRandomValues(new Uint8Array(32)));
    const body = registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'rogue-1', Math.floor(Date.now() / 1000));
    for (const proofOfPossession of [bytesToHex(createProofOfPossession(other.secretKey)), bytesToHex(signMessage(key.secretKey, key.publicKey))]) {
      const res = await postJson(`${stack.gateway}/v1/operators/register`, { ...body, proofOfPossession }, operatorAuth());
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'invalid_proof_of_possession');
    }
    const { proofOfPossession: _omitted, ...withoutPop } = body;
    assert.equal((await postJson(`${stack.gateway}/v1/operators/register`, withoutPop, operatorAuth())).body.error.code, 'invalid_request');
    assert.equal((await postJson(`${stack.gateway}/v1/operators/register`, body)).status, 401, 'the operator token is required');
    const listed = (await call(`${stack.gateway}/v1/operators`)).body.operators as any[];
    assert.ok(!listed.some((o) => o.id === 'rogue-1'));
  });

  it('refuses a rogue key crafted to cancel a registered one, so no aggregate can be forged with it', async () => {
    // pk_rogue = a·G1 − pk_victim: with it, a·G1 = pk_rogue + pk_victim would let the attacker alone
    // sign "for both". The attacker knows no secret key of pk_rogue, so no proof of possession.
    const G1 = bls12_381.G1.Point;
    const victim = G1.fromBytes(hexToBytes(operators[0]!.blsPublicKey));
    const a = 123456789n;
    const rogue = G1.BASE.multiply(a).subtract(victim).toBytes(true);
    const now = Math.floor(Date.now() / 1000);
    // The best the attacker can offer: a "proof" made with the secret it knows (a) over the rogue key.
    const attempt = bls12_381.longSignatures.hash(rogue, POP_DST).multiply(a).toBytes(true);
    const key = { secretKey: hexToBytes(`0x${a.toString(16).padStart(64, '0')}`), publicKey: rogue, proofOfPossession: attempt };
    const body = registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'rogue-2', now);
    const res = await postJson(`${stack.gateway}/v1/operators/register`, body, operatorAuth());
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_proof_of_possession');
  });

  it('refuses a key that is already registered, and a registration signed by another key', async () => {
    const key = operatorKeyFromSecret(generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey);
    const now = Math.floor(Date.now() / 1000);
    const first = await postJson(
      `${stack.gateway}/v1/operators/register`,
      registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'dup-1', now),
      operatorAuth(),
    );
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.status, 'pending', 'no stake yet');
    const again = await postJson(
      `${stack.gateway}/v1/operators/register`,
      registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'dup-2', now),
      operatorAuth(),
    );
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'operator_key_registered');
    const forged = registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'dup-1', now);
    const attacker = generateKeyPair(crypto.getRandomValues(new Uint8Array(32)));
    forged['signature'] = bytesToHex(signMessage(attacker.secretKey, new TextEncoder().encode('anything')));
    assert.equal((await postJson(`${stack.gateway}/v1/operators/register`, forged, operatorAuth())).body.error.code, 'invalid_signature');
  });

  it('lets only the admin set stakes', async () => {
    const res = await postJson(`${stack.gateway}/v1/operators/operator-1/stake`, { stake: '999' }, operatorAuth());
    assert.equal(res.status, 401);
    const missing = await postJson(`${stack.gateway}/v1/operators/nobody/stake`, { stake: '1' }, admin());
    assert.equal(missing.status, 404);
  });
});

describe('intents and attestations', () => {
  let policyId: Hex;
  let attestation: Attestation;
  before(async () => {
    policyId = await createPolicy({ maxValue: 5000, blocked: [BLOCKED] });
  });

  it('answers an allowed intent with an attestation that verifyAttestation accepts', async () => {
    const res = await postJson(`${stack.gateway}/v1/intents`, { intent: intent(), policyId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'completed');
    attestation = res.body.attestation;
    assert.equal(attestation.allowed, true);
    assert.equal(attestation.policyId, policyId);
    assert.equal(attestation.totalStake, '100');
    assert.ok(BigInt(attestation.signedStake) * 10_000n >= 100n * 6700n);
    const registry = await registrySnapshot();
    const now = BigInt(Math.floor(Date.now() / 1000));
    assert.deepEqual(verifyAttestation(attestation, registry, { now, expectedChainId: 31337, expectedPolicyId: policyId }), {
      valid: true,
      reasons: [],
    });
    const remote = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation, chainId: 31337, policyId });
    assert.deepEqual(remote.body, { valid: true, reasons: [] });

    const task = await call(`${stack.gateway}/v1/tasks/${attestation.taskId}`);
    assert.equal(task.status, 200);
    assert.equal(task.body.status, 'completed');
    assert.deepEqual(task.body.signers, attestation.signers);
    assert.deepEqual(task.body.nonSigners, attestation.nonSigners);
    assert.deepEqual(task.body.attestation, attestation);
  });

  it('refuses the attestation with any signed field, signature byte or signer list changed', async () => {
    const registry = await registrySnapshot();
    const now = BigInt(Math.floor(Date.now() / 1000));
    const sig = hexToBytes(attestation.aggregateSignature);
    sig[95] = sig[95]! ^ 1;
    const tampered: Attestation[] = [
      { ...attestation, allowed: false },
      { ...attestation, chainId: 1, intent: { ...attestation.intent, chainId: 1 } },
      { ...attestation, policyId: `0x${'ab'.repeat(32)}` },
      { ...attestation, expiration: attestation.expiration + 1 },
      { ...attestation, aggregateSignature: bytesToHex(sig) },
      // One signer dropped from the list (and moved to the non-signers, so the sets stay consistent).
      { ...attestation, signers: attestation.signers.slice(1), nonSigners: [...attestation.nonSigners, attestation.signers[0]!] },
    ];
    for (const t of tampered) {
      const local = verifyAttestation(t, registry, { now, requireAllowed: false });
      assert.equal(local.valid, false, JSON.stringify(local));
      const remote = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: t, requireAllowed: false });
      assert.equal(remote.body.valid, false);
    }
    const expired = verifyAttestation(attestation, registry, { now: BigInt(attestation.expiration) + 1n });
    assert.deepEqual(expired.reasons, ['expired']);
  });

  it("judges an attestation by its task's registry snapshot, so a later stake change does not void it", async () => {
    const setStake = (stake: string) => postJson(`${stack.gateway}/v1/operators/operator-1/stake`, { stake }, admin());
    assert.equal((await setStake('5')).status, 200);
    try {
      const remote = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation, chainId: 31337, policyId });
      assert.deepEqual(remote.body, { valid: true, reasons: [] });
    } finally {
      assert.equal((await setStake('50')).status, 200);
    }
  });

  it('consumes an attestation once; the second consumption is refused with 409', async () => {
    const res = await postJson(`${stack.gateway}/v1/intents`, { intent: intent({ value: '42' }), policyId });
    const fresh: Attestation = res.body.attestation;
    const [first, second] = await Promise.all([
      postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: fresh }),
      postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: fresh }),
    ]);
    const statuses = [first.status, second.status].sort();
    assert.deepEqual(statuses, [200, 409]);
    const refused = first.status === 409 ? first : second;
    assert.equal(refused.body.error.code, 'attestation_already_used');
    const third = await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: fresh });
    assert.equal(third.status, 409);
    const verify = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: fresh });
    assert.deepEqual(verify.body, { valid: false, reasons: ['already_consumed'] });
    const tampered = await postJson(`${stack.gateway}/v1/attestations/consume`, {
      attestation: { ...attestation, allowed: false },
      requireAllowed: false,
    });
    assert.equal(tampered.status, 422);
    assert.equal(tampered.body.error.code, 'invalid_attestation');
  });

  it('attests a deny verdict with the policy reasons', async () => {
    const res = await postJson(`${stack.gateway}/v1/intents`, { intent: intent({ to: BLOCKED, value: '9000' }), policyId });
    assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
    assert.equal(res.body.attestation.allowed, false);
    assert.deepEqual(res.body.attestation.reasons, ['recipient is blocked', 'value above limit']);
    const verify = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: res.body.attestation });
    assert.deepEqual(verify.body.reasons, ['not_allowed']);
    const consume = await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: res.body.attestation });
    assert.equal(consume.status, 422, 'a deny verdict does not authorize anything');
  });

  it('refuses bad intents with clear codes and creates no task', async () => {
    const cases: [unknown, number, string][] = [
      [{ intent: intent({ value: '-1' }), policyId }, 400, 'invalid_request'],
      [{ intent: intent({ to: 'nope' }), policyId }, 400, 'invalid_request'],
      [{ intent: intent(), policyId: `0x${'00'.repeat(32)}` }, 404, 'policy_not_found'],
      [{ intent: intent() }, 400, 'invalid_request'],
    ];
    for (const [body, status, code] of cases) {
      const res = await postJson(`${stack.gateway}/v1/intents`, body);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
    }
    assert.equal((await call(`${stack.gateway}/v1/tasks/0x${'12'.repeat(32)}`)).status, 404);
    const missingModule = await postJson(
      `${stack.gateway}/v1/policies`,
      {
        modules: { 'authz.rego': POLICY },
        entrypoint: 'data.proofgate.authz',
        params: { maxValue: 1, blocked: [] },
        policyData: [{ name: 'ghost', sha256: `0x${'77'.repeat(32)}` }],
      },
      admin(),
    );
    const refused = await postJson(`${stack.gateway}/v1/intents`, { intent: intent(), policyId: missingModule.body.id });
    assert.equal(refused.status, 422);
    assert.equal(refused.body.error.code, 'policy_data_missing');
  });

  it('every operator signs the same verdict and digest over many generated intents', async () => {
    const next = seededRandom(7);
    const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    const addresses = [BLOCKED, '0x2222222222222222222222222222222222222222', '0x3333333333333333333333333333333333333333'];
    for (let i = 0; i < 12; i++) {
      const value = String(int(0, 10_000));
      const to = addresses[int(0, addresses.length - 1)]!;
      const res = await postJson(`${stack.gateway}/v1/intents`, {
        intent: intent({ value, to, data: bytesToHex(Uint8Array.from({ length: int(0, 8) }, () => int(0, 255))) }),
        policyId,
      });
      assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
      const view = await waitForTask(res.body.taskId, (v) => v.verdicts?.[0]?.signers.length === 3);
      assert.equal(view.verdicts.length, 1, `one digest for task ${i}: ${JSON.stringify(view.verdicts)}`);
      assert.equal(view.verdicts[0].signers.length, 3);
      assert.deepEqual(view.rejected, []);
      const expected = to.toLowerCase() !== BLOCKED.toLowerCase() && Number(value) <= 5000;
      assert.equal(view.verdicts[0].allowed, expected);
    }
  });
});

describe('quorum with operators down', () => {
  let policyId: Hex;
  before(async () => {
    policyId = await createPolicy({ maxValue: 1_000_000, blocked: [] });
  });

  it('forms the quorum without the stopped 20-stake operator and lists it as a non-signer', async () => {
    const stopped = operators.find((o) => o.id === 'operator-3')!;
    process.kill(-stopped.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    const res = await postJson(`${stack.gateway}/v1/intents`, { intent: intent(), policyId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const a: Attestation = res.body.attestation;
    assert.deepEqual(a.signers, ['operator-1', 'operator-2']);
    assert.deepEqual(a.nonSigners, ['operator-3']);
    assert.equal(a.signedStake, '80');
    assert.deepEqual(verifyAttestation(a, await registrySnapshot(), { now: BigInt(Math.floor(Date.now() / 1000)) }), { valid: true, reasons: [] });
  });

  it('fails at the deadline with the reason when the stake left is below the threshold', async () => {
    const stopped = operators.find((o) => o.id === 'operator-2')!;
    process.kill(-stopped.pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    const res = await postJson(`${stack.gateway}/v1/intents`, { intent: intent(), policyId, deadlineSeconds: 2, waitMs: 0 });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('location'), `/v1/tasks/${res.body.taskId}`);
    const view = await waitForTask(res.body.taskId, (v) => v.status === 'failed' || v.status === 'completed');
    assert.equal(view.status, 'failed');
    assert.equal(view.failure.code, 'deadline_exceeded');
    assert.match(view.failure.message, /signed stake 50 of 100/);
    assert.match(view.failure.message, /operator-2, operator-3/);
    assert.equal(view.attestation, null);
    assert.deepEqual(view.signers, ['operator-1']);
  });
});
