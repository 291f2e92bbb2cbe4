import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { bytesToHex, createPublicClient, hexToBytes, http, zeroAddress, type Address, type Hex, type PublicClient } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startAnvil, freePort, type AnvilInstance } from '../../chain/anvil';
import { setOperatorStake } from '../../chain/operator-registry';
import {
  POP_DST,
  assembleAttestation,
  consumeConsentTypedData,
  requestDigest,
  createProofOfPossession,
  generateKeyPair,
  policyDataReportDigest,
  readRegistrySnapshot,
  signMessage,
  verifyAttestation,
  type Attestation,
  type AttestationRequest,
  type Intent,
} from '../../core/attestation';
import { TASK_PATHS, signReplySchema, type TaskAssignment } from '../../core/operator-protocol';
import { OperatorCallError, callOperator } from '../../durable-objects/operator-calls';
import { registrationBody } from '../../signer-node/gateway-registration';
import { operatorKeyFromSecret } from '../../signer-node/operator-key';
import type { LocalStack } from '../../local-stack/launch';
import { REPO_ROOT } from '../../local-stack/demo-models';
import { deployOperatorChain, launchOperators, type LaunchedOperator, type OperatorChain } from '../../local-stack/operators';
import { ProcessGroup } from '../../local-stack/process-group';
import { call, postJson } from '../support/gateway-client';
import { pollUntil, waitForExit, waitForPidGone } from '../support/poll';
import { seededRandom } from '../support/seeded-random';
import { launchTestStack } from '../support/test-stack';
import { POLICY } from '../unit/intents/task-fixtures';
import { ATTESTATION_TAMPERINGS } from '../support/attestation-tamperings';

// A stack of its own (no backends, no models) with an OperatorRegistry on anvil and three signer
// nodes staked 50/30/20 there, so this file controls the whole operator set. The tests attack the
// gateway, the signer nodes and the registry as a hostile caller, a colluding minority of operators
// or a compromised gateway would. Stopping operators comes last.

/** Intents per minute an unauthenticated caller gets here (the D1 counter; the dev binding allows more). */
const INTENT_LIMIT = 8;

let anvil: AnvilInstance;
let chain: OperatorChain;
let client: PublicClient;
let stack: LocalStack;
let operators: LaunchedOperator[];
let apiKey: string;
let gatewaySecret: string;
const keys = new Map<string, Uint8Array>();
const group = new ProcessGroup();

before(async () => {
  anvil = await startAnvil();
  chain = await deployOperatorChain(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
  client = createPublicClient({ transport: http(anvil.rpcUrl) });
  stack = await launchTestStack({
    backends: 0,
    models: [],
    payments: false,
    workerVars: workerVarsOf(chain),
  });
  operators = await launchOperators({
    gateway: stack.gateway,
    operatorToken: stack.operatorToken,
    chain,
    stateDir: stack.stateDir,
    logsDir: stack.logsDir,
    group,
    stakes: [50n, 30n, 20n],
  });
  for (const o of operators) keys.set(o.id, hexToBytes((await readFile(o.keyFile, 'utf8')).trim() as Hex));
  gatewaySecret = /GATEWAY_SECRET=(.+)/.exec(await readFile(join(stack.stateDir, 'secrets.env'), 'utf8'))![1]!;
  apiKey = (await postJson(`${stack.gateway}/v1/api-keys`, { label: 'intents test' }, admin())).body.key;
});
after(async () => {
  await group.stopAll();
  await stack?.stop();
  await anvil?.stop();
});

function workerVarsOf(c: OperatorChain): Record<string, string> {
  return {
    OPERATOR_REGISTRY_ADDRESS: c.registry,
    OPERATOR_REGISTRY_RPC_URL: c.rpcUrl,
    INTENT_RATE_LIMIT_PER_MINUTE: String(INTENT_LIMIT),
    TASK_RETENTION_SECONDS: '1',
  };
}

const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });
const operatorAuth = () => ({ authorization: `Bearer ${stack.operatorToken}` });
/** Intents in these tests come from an API-key caller, which the per-caller limit for anonymous callers leaves alone. */
const keyed = () => ({ authorization: `Bearer ${apiKey}` });

const BLOCKED = '0x000000000000000000000000000000000000dEaD';

async function createPolicy(params: unknown, thresholdBps?: number): Promise<Hex> {
  const res = await postJson(
    `${stack.gateway}/v1/policies`,
    { modules: { 'intent.rego': POLICY }, entrypoint: 'data.proofgate.intent', params, ...(thresholdBps ? { thresholdBps } : {}) },
    admin(),
  );
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.id as Hex;
}

function intent(overrides: Partial<{ from: string; to: string; value: string; data: string; chainId: number }> = {}): Intent {
  return {
    from: '0x1111111111111111111111111111111111111111',
    to: '0x2222222222222222222222222222222222222222',
    value: '1000',
    data: '0x',
    chainId: 31337,
    ...overrides,
  } as Intent;
}

async function submit(body: Record<string, unknown>, headers: Record<string, string> = keyed()) {
  return postJson(`${stack.gateway}/v1/intents`, { waitMs: 20_000, ...body }, headers);
}

/** The snapshot an attestation names, read from the chain as any verifier would. */
const snapshotOf = (a: { registry: Address; registryBlock: number }) => readRegistrySnapshot(client, a.registry, a.registryBlock);
const nowS = () => BigInt(Math.floor(Date.now() / 1000));

/** The task's view once `done` holds for it; throws (with the last view) if it does not within `timeoutMs`. */
async function waitForTask(taskId: string, done: (view: any) => boolean, timeoutMs = 30_000): Promise<any> {
  return pollUntil(
    `task ${taskId}`,
    async () => (await call(`${stack.gateway}/v1/tasks/${taskId}`)).body,
    (view) => done(view),
    { timeoutMs, intervalMs: 250 },
  );
}

/** Stops a signer node (its whole process group) and waits, bounded, until its process is gone. Idempotent. */
async function stopOperator(id: string): Promise<void> {
  const operator = operators.find((o) => o.id === id)!;
  try {
    process.kill(-operator.pid, 'SIGTERM');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // already stopped
  }
  await waitForPidGone(operator.pid, id, 30_000);
}

/**
 * An attestation assembled by the named operators alone (with their real keys, whatever their stake
 * now), for a task the gateway never ran, under the registry snapshot of the chain's head.
 */
async function colludingAttestation(
  signers: string[],
  fields: Partial<AttestationRequest> & Pick<AttestationRequest, 'policyId'>,
): Promise<Attestation> {
  const head = Number(await client.getBlockNumber({ cacheTime: 0 }));
  const request: AttestationRequest = {
    taskId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
    policyClient: zeroAddress,
    chainId: 31337,
    intent: intent(),
    allowed: true,
    reasons: [],
    policyDataHash: `0x${'a8'.repeat(32)}`,
    expiration: Number(nowS()) + 600,
    thresholdBps: 6700,
    registry: chain.registry,
    registryBlock: head,
    ...fields,
  };
  const digest = hexToBytes(requestDigest(request));
  const signatures = signers.map((id) => ({ operatorId: id, signature: bytesToHex(signMessage(keys.get(id)!, digest)) }));
  // The colluders' own view of the registry: every launched operator, theirs included, at any stake they like.
  const claimed = {
    address: chain.registry,
    blockNumber: head,
    operators: operators.map((o) => ({ id: o.id, blsPublicKey: o.blsPublicKey, stake: BigInt(o.stake) })),
  };
  return assembleAttestation(request, signatures, claimed);
}

/** The policy client's consent to spend `a`, signed with `key` (EIP-712). */
async function consumeConsent(a: Attestation, key: Hex, issuedAt = Math.floor(Date.now() / 1000)) {
  const signature = await privateKeyToAccount(key).signTypedData(consumeConsentTypedData(a.digest, a.chainId, issuedAt));
  return { issuedAt, signature };
}

describe('operator registry: membership and stake from chain', () => {
  it('lists the members of the latest registry snapshot with their stakes; signer node URLs for admins only', async () => {
    const { status, body } = await call(`${stack.gateway}/v1/operators`);
    assert.equal(status, 200);
    assert.equal(body.registry.address, chain.registry);
    const byId = new Map((body.operators as any[]).map((o) => [o.id, o]));
    for (const launched of operators) {
      const listed = byId.get(launched.id);
      assert.equal(listed.blsPublicKey, launched.blsPublicKey);
      assert.equal(listed.stake, launched.stake);
      assert.equal(listed.node.url, undefined, 'URLs are for admins only');
    }
    const asAdmin = await call(`${stack.gateway}/v1/operators`, { headers: admin() });
    assert.ok((asAdmin.body.operators as any[]).every((o) => typeof o.node.url === 'string'));
  });

  it('has no admin stake API: stakes move on chain only', async () => {
    const res = await postJson(`${stack.gateway}/v1/operators/operator-1/stake`, { stake: '999' }, admin());
    assert.equal(res.status, 404);
    const listed = (await call(`${stack.gateway}/v1/operators`)).body.operators as any[];
    assert.equal(listed.find((o) => o.id === 'operator-1').stake, '50');
  });

  describe('refuses a registration without a valid proof of possession', () => {
    /** A registration of a fresh key under `id`, with the body's own (valid) proof of possession. */
    const rogueRegistration = (id: string) => {
      const key = operatorKeyFromSecret(generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey);
      return { key, body: registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, id, Math.floor(Date.now() / 1000)) };
    };
    const listedIds = async () => ((await call(`${stack.gateway}/v1/operators`)).body.operators as any[]).map((o) => o.id as string);

    const wrongProofs: [string, string, (key: { secretKey: Uint8Array; publicKey: Uint8Array }) => Hex][] = [
      [
        "another key's proof",
        'rogue-1a',
        () => bytesToHex(createProofOfPossession(generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey)),
      ],
      ['a message signature over the key', 'rogue-1b', (key) => bytesToHex(signMessage(key.secretKey, key.publicKey))],
    ];
    for (const [name, id, proof] of wrongProofs) {
      it(`refuses ${name} as its proof of possession`, async () => {
        const { key, body } = rogueRegistration(id);
        const res = await postJson(`${stack.gateway}/v1/operators/register`, { ...body, proofOfPossession: proof(key) }, operatorAuth());
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'invalid_proof_of_possession');
        assert.ok(!(await listedIds()).includes(id));
      });
    }

    it('refuses a registration without a proof of possession', async () => {
      const { proofOfPossession: _omitted, ...withoutPop } = rogueRegistration('rogue-1').body;
      assert.equal((await postJson(`${stack.gateway}/v1/operators/register`, withoutPop, operatorAuth())).body.error.code, 'invalid_request');
      assert.ok(!(await listedIds()).includes('rogue-1'));
    });

    it('requires the operator token', async () => {
      const { body } = rogueRegistration('rogue-1');
      assert.equal((await postJson(`${stack.gateway}/v1/operators/register`, body)).status, 401, 'the operator token is required');
      assert.ok(!(await listedIds()).includes('rogue-1'));
    });
  });

  it('refuses a rogue key crafted to cancel a registered one, so no aggregate can be forged with it', async () => {
    const G1 = bls12_381.G1.Point;
    const victim = G1.fromBytes(hexToBytes(operators[0]!.blsPublicKey));
    const a = 123456789n;
    const rogue = G1.BASE.multiply(a).subtract(victim).toBytes(true);
    const attempt = bls12_381.longSignatures.hash(rogue, POP_DST).multiply(a).toBytes(true);
    const key = { secretKey: hexToBytes(`0x${a.toString(16).padStart(64, '0')}`), publicKey: rogue, proofOfPossession: attempt };
    const body = registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'rogue-2', Math.floor(Date.now() / 1000));
    const res = await postJson(`${stack.gateway}/v1/operators/register`, body, operatorAuth());
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_proof_of_possession');
  });

  describe('a node registered at the gateway (not staked on chain)', () => {
    const key = operatorKeyFromSecret(generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey);
    const now = Math.floor(Date.now() / 1000);
    // Registered once here; the tests below only try (and fail) to register again.
    before(async () => {
      const first = await postJson(
        `${stack.gateway}/v1/operators/register`,
        registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'dup-1', now),
        operatorAuth(),
      );
      assert.equal(first.status, 201, JSON.stringify(first.body));
    });

    it('is no member: listed with stake 0', async () => {
      const listed = ((await call(`${stack.gateway}/v1/operators`)).body.operators as any[]).find((o) => o.id === 'dup-1');
      assert.equal(listed.stake, '0');
    });

    it('cannot register its key again under another id', async () => {
      const again = await postJson(
        `${stack.gateway}/v1/operators/register`,
        registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'dup-2', now),
        operatorAuth(),
      );
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'operator_key_registered');
    });

    it('cannot be re-registered with a registration signed by another key', async () => {
      const forged = registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, 'dup-1', now);
      const attacker = generateKeyPair(crypto.getRandomValues(new Uint8Array(32)));
      forged['signature'] = bytesToHex(signMessage(attacker.secretKey, new TextEncoder().encode('anything')));
      assert.equal((await postJson(`${stack.gateway}/v1/operators/register`, forged, operatorAuth())).body.error.code, 'invalid_signature');
    });
  });
});

describe('intents and attestations', () => {
  let policyId: Hex;
  /** The answer to one allowed intent, bound to no policy client: shared by the tests below, which never consume it. */
  let allowed: Awaited<ReturnType<typeof submit>>;
  let attestation: Attestation;
  before(async () => {
    policyId = await createPolicy({ maxValue: 5000, blocked: [BLOCKED] });
    allowed = await submit({ intent: intent(), policyId });
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    attestation = allowed.body.attestation;
  });

  it('answers an allowed intent with an attestation that the library and the endpoint accept, judged by its snapshot', async () => {
    const res = allowed;
    assert.equal(res.body.status, 'completed');
    assert.equal(attestation.allowed, true);
    assert.equal(attestation.policyId, policyId);
    assert.equal(attestation.totalStake, '100');
    assert.equal(attestation.thresholdBps, 6700);
    assert.equal(attestation.registry, chain.registry);
    assert.equal(attestation.registryBlock, res.body.registryBlock);
    assert.deepEqual(
      verifyAttestation(attestation, await snapshotOf(attestation), {
        now: nowS(),
        policyThresholdBps: 6700,
        expectedChainId: 31337,
        expectedPolicyId: policyId,
      }),
      { valid: true, reasons: [] },
    );
    const remote = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation, chainId: 31337, policyId });
    assert.deepEqual(remote.body, { valid: true, reasons: [] });
    const task = await call(`${stack.gateway}/v1/tasks/${attestation.taskId}`);
    assert.equal(task.body.status, 'completed');
    assert.deepEqual(task.body.signers, attestation.signers);
    assert.deepEqual(task.body.nonSigners, attestation.nonSigners);
    assert.deepEqual(task.body.attestation, attestation);
  });

  describe('refuses the attestation with any signed field, signature byte or signer list changed', () => {
    for (const [changed, tamper] of ATTESTATION_TAMPERINGS) {
      it(`with ${changed} changed`, async () => {
        const t = tamper(attestation);
        assert.equal(
          verifyAttestation(t, await snapshotOf(attestation), { now: nowS(), policyThresholdBps: 6700, requireAllowed: false }).valid,
          false,
        );
        const remote = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: t, requireAllowed: false });
        assert.equal(remote.body.valid, false, JSON.stringify(t));
      });
    }
  });

  describe("judges quorum by the policy's threshold: an aggregate of 80 % of stake never passes a 90 % policy", () => {
    let policy90: Hex;
    before(async () => {
      policy90 = await createPolicy({ maxValue: 5000, blocked: [] }, 9000);
    });
    const verify = (a: Attestation) => postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: a });

    it("refuses operator-1 and operator-2 (80 of 100) colluding with the policy's quorum", async () => {
      const honest = await colludingAttestation(['operator-1', 'operator-2'], { policyId: policy90, thresholdBps: 9000 });
      assert.deepEqual((await verify(honest)).body, { valid: false, reasons: ['quorum_not_met'] });
    });

    it('refuses them claiming a lower quorum in what they sign', async () => {
      const lowered = await colludingAttestation(['operator-1', 'operator-2'], { policyId: policy90, thresholdBps: 6700 });
      assert.deepEqual((await verify(lowered)).body.reasons.sort(), ['quorum_not_met', 'threshold_mismatch']);
      const snapshot = await snapshotOf(lowered);
      assert.ok(verifyAttestation(lowered, snapshot, { now: nowS(), policyThresholdBps: 9000 }).reasons.includes('threshold_mismatch'));
    });

    it('accepts the same two under a policy that asks 67 %', async () => {
      const under67 = await colludingAttestation(['operator-1', 'operator-2'], { policyId, thresholdBps: 6700 });
      assert.deepEqual((await verify(under67)).body, { valid: true, reasons: [] });
    });
  });

  describe("consumes only for the attestation's policy client, authenticated; a third party burns nothing", () => {
    /** A new attestation bound to a new policy client, with that client's key: each test spends its own. */
    async function bound(): Promise<{ fresh: Attestation; clientKey: Hex }> {
      const clientKey = generatePrivateKey();
      const res = await submit({ intent: intent({ value: '42' }), policyId, policyClient: privateKeyToAccount(clientKey).address });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return { fresh: res.body.attestation, clientKey };
    }
    const consume = (attestation: Attestation, body: Record<string, unknown>) =>
      postJson(`${stack.gateway}/v1/attestations/consume`, { attestation, ...body });
    const verify = async (attestation: Attestation) => (await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation })).body;

    const refusals: [string, (fresh: Attestation, clientKey: Hex) => Promise<Record<string, unknown>>, number, string][] = [
      ['no consent', async () => ({}), 401, 'consume_consent_required'],
      ["a stranger's consent", async (fresh) => ({ consent: await consumeConsent(fresh, generatePrivateKey()) }), 403, 'not_policy_client'],
      [
        "the client's consent an hour old",
        async (fresh, clientKey) => ({ consent: await consumeConsent(fresh, clientKey, Math.floor(Date.now() / 1000) - 3600) }),
        401,
        'stale_consume_consent',
      ],
      [
        "the client's signature with another issue time",
        async (fresh, clientKey) => ({
          consent: { ...(await consumeConsent(fresh, clientKey)), issuedAt: Math.floor(Date.now() / 1000) - 1 },
        }),
        403,
        'not_policy_client',
      ],
      ['a malformed consent', async () => ({ consent: { issuedAt: 1, signature: '0x1234' } }), 401, 'stale_consume_consent'],
    ];
    for (const [name, body, status, code] of refusals) {
      it(`refuses ${name} with ${code}, spending nothing`, async () => {
        const { fresh, clientKey } = await bound();
        const r = await consume(fresh, await body(fresh, clientKey));
        assert.equal(r.status, status, JSON.stringify(r.body));
        assert.equal(r.body.error.code, code);
        assert.deepEqual(await verify(fresh), { valid: true, reasons: [] });
      });
    }

    it("consumes once for the client's consent, however many times it is sent at once", async () => {
      const { fresh, clientKey } = await bound();
      const consent = await consumeConsent(fresh, clientKey);
      const [first, second] = await Promise.all([consume(fresh, { consent }), consume(fresh, { consent })]);
      assert.deepEqual([first.status, second.status].sort(), [200, 409]);
      assert.equal((first.status === 409 ? first : second).body.error.code, 'attestation_already_used');
      assert.deepEqual(await verify(fresh), { valid: false, reasons: ['already_consumed'] });
    });

    it("refuses a tampered attestation as invalid, even with the client's own consent over the tampered digest", async () => {
      const tampered = { ...attestation, allowed: false };
      const t = await postJson(`${stack.gateway}/v1/attestations/consume`, {
        attestation: tampered,
        requireAllowed: false,
        consent: await consumeConsent(tampered, generatePrivateKey()),
      });
      assert.equal(t.status, 422, JSON.stringify(t.body));
    });
  });

  describe('refuses to consume an attestation bound to no policy client', () => {
    const attempts: [string, () => Promise<Record<string, unknown>>][] = [
      ['without a consent', async () => ({})],
      ["with anyone's consent", async () => ({ consent: await consumeConsent(attestation, generatePrivateKey()) })],
    ];
    for (const [name, body] of attempts) {
      it(name, async () => {
        assert.equal(attestation.policyClient.toLowerCase(), zeroAddress);
        const res = await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation, ...(await body()) });
        assert.equal(res.status, 422);
        assert.equal(res.body.error.code, 'attestation_unbound');
        assert.deepEqual((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation })).body, { valid: true, reasons: [] });
      });
    }
  });

  it('forgets a used attestation once it expired, and never lets it be used again', async () => {
    const clientKey = generatePrivateKey();
    const res = await submit({ intent: intent({ value: '7' }), policyId, policyClient: privateKeyToAccount(clientKey).address, validForSeconds: 3 });
    const shortLived: Attestation = res.body.attestation;
    const consumed = await postJson(`${stack.gateway}/v1/attestations/consume`, {
      attestation: shortLived,
      consent: await consumeConsent(shortLived, clientKey),
    });
    assert.equal(consumed.status, 200, JSON.stringify(consumed.body));
    // Expired and consumed, then (its ledger entry erased by its alarm) only expired.
    const reasons = await pollUntil(
      'the used attestation to be only expired (its ledger entry erased)',
      async () => (await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: shortLived })).body.reasons as string[],
      (r) => r.length === 1 && r[0] === 'expired',
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.deepEqual(reasons, ['expired']);
    const again = await postJson(`${stack.gateway}/v1/attestations/consume`, {
      attestation: shortLived,
      consent: await consumeConsent(shortLived, clientKey),
    });
    assert.equal(again.status, 422);
    assert.deepEqual(again.body.error.reasons, ['expired']);
    // The task itself is erased (object and D1 row) once its retention after expiry has passed.
    const gone = await waitForTask(shortLived.taskId, (v) => v?.error?.code === 'task_not_found', 60_000);
    assert.equal(gone.error.code, 'task_not_found');
    const listed = (await call(`${stack.gateway}/v1/tasks?limit=100`)).body.tasks as { taskId: string }[];
    assert.ok(!listed.some((t) => t.taskId === shortLived.taskId), 'the D1 row went with it');
  });

  it('attests a deny verdict with the policy reasons', async () => {
    const res = await submit({ intent: intent({ to: BLOCKED, value: '9000' }), policyId });
    assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
    assert.equal(res.body.attestation.allowed, false);
    assert.deepEqual(res.body.attestation.reasons, ['recipient is blocked', 'value above limit']);
    const verify = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: res.body.attestation });
    assert.deepEqual(verify.body.reasons, ['not_allowed']);
  });

  describe('refuses bad intents with clear codes and creates no task', () => {
    const taskCount = async () => ((await call(`${stack.gateway}/v1/tasks?limit=100`)).body.tasks as unknown[]).length;
    const cases: [string, () => unknown, number, string][] = [
      ['a negative value', () => ({ intent: intent({ value: '-1' }), policyId }), 400, 'invalid_request'],
      ['a recipient that is no address', () => ({ intent: intent({ to: 'nope' }), policyId }), 400, 'invalid_request'],
      ['an unknown policy', () => ({ intent: intent(), policyId: `0x${'00'.repeat(32)}` }), 404, 'policy_not_found'],
      ['no policy', () => ({ intent: intent() }), 400, 'invalid_request'],
      ['another chain', () => ({ intent: intent({ chainId: 1 }), policyId }), 400, 'unsupported_chain'],
    ];
    for (const [name, body, status, code] of cases) {
      it(`${name}: ${status} ${code}`, async () => {
        const before = await taskCount();
        const res = await postJson(`${stack.gateway}/v1/intents`, body(), keyed());
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.error.code, code);
        assert.equal(await taskCount(), before);
      });
    }

    it('an unknown task: 404', async () => {
      assert.equal((await call(`${stack.gateway}/v1/tasks/0x${'12'.repeat(32)}`)).status, 404);
    });

    it('a policy whose PolicyData module is missing: 422 policy_data_missing', async () => {
      const before = await taskCount();
      const missingModule = await postJson(
        `${stack.gateway}/v1/policies`,
        {
          modules: { 'intent.rego': POLICY },
          entrypoint: 'data.proofgate.intent',
          params: { maxValue: 1, blocked: [] },
          policyData: [{ name: 'ghost', sha256: `0x${'77'.repeat(32)}` }],
        },
        admin(),
      );
      const refused = await postJson(`${stack.gateway}/v1/intents`, { intent: intent(), policyId: missingModule.body.id }, keyed());
      assert.equal(refused.status, 422);
      assert.equal(refused.body.error.code, 'policy_data_missing');
      assert.equal(await taskCount(), before);
    });
  });

  describe('every operator signs the same verdict and digest over many generated intents', () => {
    // Generated up front from a fixed seed, so each test gets the same intent however the others went.
    const next = seededRandom(7);
    const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
    const addresses = [BLOCKED, '0x2222222222222222222222222222222222222222', '0x3333333333333333333333333333333333333333'];
    const generated = Array.from({ length: 6 }, () => {
      const value = String(int(0, 10_000));
      const to = addresses[int(0, addresses.length - 1)]!;
      return { value, to, data: bytesToHex(Uint8Array.from({ length: int(0, 8) }, () => int(0, 255))) };
    });
    for (const [i, { value, to, data }] of generated.entries()) {
      it(`generated intent ${i}: ${value} wei to ${to.slice(0, 6)}…, ${(data.length - 2) / 2} calldata bytes`, async () => {
        const res = await submit({ intent: intent({ value, to, data }), policyId });
        assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
        const view = await waitForTask(res.body.taskId, (v) => v.verdicts?.[0]?.signers.length === 3);
        assert.equal(view.verdicts.length, 1, `one digest for task ${i}: ${JSON.stringify(view.verdicts)}`);
        assert.deepEqual(view.rejected, []);
        assert.equal(view.verdicts[0].allowed, to.toLowerCase() !== BLOCKED.toLowerCase() && Number(value) <= 5000);
      });
    }
  });
});

describe('a compromised gateway cannot obtain a verdict the real policy would not give', () => {
  let strictPolicy: Hex;
  let liar: Server;
  let mirror: ChildProcess | undefined;
  before(async () => {
    strictPolicy = await createPolicy({ maxValue: 10, blocked: [] });
  });
  after(async () => {
    liar?.closeAllConnections();
    liar?.close();
    if (mirror?.pid && mirror.exitCode === null && mirror.signalCode === null) {
      process.kill(-mirror.pid, 'SIGTERM');
      await waitForExit(mirror, 'the mirror signer node', 30_000);
    }
  });

  /** A task for `policyId` as a (compromised) gateway would send it, authenticated with the gateway's own secret. */
  async function sendAsGateway(operator: { id: string; url: string }, path: string, task: TaskAssignment, body: unknown) {
    return callOperator(gatewaySecret, operator, path, { taskId: task.taskId, policyId: task.policyId }, body, 20_000);
  }
  async function assignment(policyId: Hex): Promise<TaskAssignment> {
    const createdAt = Math.floor(Date.now() / 1000);
    return {
      taskId: bytesToHex(crypto.getRandomValues(new Uint8Array(32))),
      policyId,
      policyClient: zeroAddress,
      chainId: 31337,
      intent: intent({ value: '5000' }),
      thresholdBps: 6700,
      registry: chain.registry,
      registryBlock: Number(await client.getBlockNumber({ cacheTime: 0 })),
      createdAt,
      expiration: createdAt + 600,
    };
  }
  const refusedWith = (code: string) => (e: unknown) => e instanceof OperatorCallError && e.message.includes(code);

  it('a signer node evaluates the policy its id names, not modules the gateway slips in', async () => {
    const node = operators[0]!;
    const task = await assignment(strictPolicy);
    // The permissive policy rides along inline: the node ignores it and signs the real verdict (deny).
    const permissive = { 'p.rego': 'package proofgate.intent\n\nimport rego.v1\n\nallow := true\n' };
    const reply = signReplySchema.parse(
      await sendAsGateway(node, TASK_PATHS.sign, task, { task: { ...task, modules: permissive, policyData: {} }, reports: [] }),
    );
    assert.equal(reply.allowed, false);
    assert.deepEqual(reply.reasons, ['value above limit']);
  });

  it('a signer node refuses a quorum the gateway lowers', async () => {
    const lowered = { ...(await assignment(strictPolicy)), thresholdBps: 1 };
    await assert.rejects(sendAsGateway(operators[0]!, TASK_PATHS.sign, lowered, { task: lowered, reports: [] }), refusedWith('threshold_mismatch'));
  });

  describe('a signer node refuses PolicyData that no operator reported', () => {
    let withData: Hex;
    const outputs = { risk: { ok: { ok: true } } };
    const signed = (taskId: Hex, key: Uint8Array) => bytesToHex(signMessage(key, hexToBytes(policyDataReportDigest(taskId, outputs))));
    // A policy fed by a PolicyData module (the node never runs it in phase 2: it only reads the reports).
    before(async () => {
      withData = (
        await postJson(
          `${stack.gateway}/v1/policies`,
          {
            modules: {
              'intent.rego': 'package proofgate.intent\n\nimport rego.v1\n\ndefault allow := false\n\nallow if data.wasm.risk.ok == true\n',
            },
            entrypoint: 'data.proofgate.intent',
            policyData: [{ name: 'risk', sha256: `0x${'5e'.repeat(32)}` }],
          },
          admin(),
        )
      ).body.id as Hex;
    });

    it("invented by the gateway and signed with a key of its own in operators' names", async () => {
      const task = await assignment(withData);
      const impostor = generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey;
      const forged = [{ operatorIds: ['operator-2', 'operator-3'], outputs, signature: signed(task.taskId, impostor) }];
      await assert.rejects(
        sendAsGateway(operators[0]!, TASK_PATHS.sign, task, { task, reports: forged }),
        refusedWith('invalid_policy_data_reports'),
      );
    });

    it('reported by only a minority of stake (the gateway withheld the rest): no consensus, no signature', async () => {
      const task = await assignment(withData);
      const minority = [{ operatorIds: ['operator-3'], outputs, signature: signed(task.taskId, keys.get('operator-3')!) }];
      await assert.rejects(sendAsGateway(operators[0]!, TASK_PATHS.sign, task, { task, reports: minority }), refusedWith('policy_data_no_consensus'));
    });
  });

  it('a signer node refuses a snapshot block the chain has not sealed', async () => {
    const future = { ...(await assignment(strictPolicy)), registryBlock: Number(await client.getBlockNumber({ cacheTime: 0 })) + 100 };
    await assert.rejects(sendAsGateway(operators[0]!, TASK_PATHS.sign, future, { task: future, reports: [] }), refusedWith('unknown_registry'));
  });

  describe('a signer node refuses a task whose policy content, as its source serves it, does not hash to the id', () => {
    let url: string;
    // A node that fetches policies from a source the attacker controls, serving permissive content under the strict id.
    before(async () => {
      liar = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            modules: { 'p.rego': 'package proofgate.intent\n\nimport rego.v1\n\nallow := true\n' },
            entrypoint: 'data.proofgate.intent',
            params: {},
            policyData: [],
            thresholdBps: 6700,
          }),
        );
      });
      await new Promise<void>((r) => liar.listen(0, '127.0.0.1', () => r()));
      const liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
      const port = await freePort();
      mirror = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(REPO_ROOT, 'signer-node', 'main.ts'),
          '--gateway',
          stack.gateway,
          '--key-file',
          join(stack.stateDir, 'keys', 'mirror.bls.key'),
          '--id',
          'mirror',
          '--port',
          String(port),
          '--chain-rpc',
          anvil.rpcUrl,
          '--registry',
          chain.registry,
          '--policy-source',
          liarUrl,
        ],
        { cwd: REPO_ROOT, env: { ...process.env, PROOFGATE_OPERATOR_TOKEN: stack.operatorToken }, detached: true, stdio: 'ignore' },
      );
      url = `http://127.0.0.1:${port}`;
      // A refused connection counts as "not yet"; past the bound the hook fails with what it saw last.
      await pollUntil(
        'the mirror signer node to register',
        async () => (await (await fetch(`${url}/healthz`)).json()) as { registered: boolean },
        (health) => health.registered,
        { timeoutMs: 120_000, intervalMs: 500 },
      );
    });

    it('when asked to sign', async () => {
      const task = await assignment(strictPolicy);
      await assert.rejects(
        sendAsGateway({ id: 'mirror', url }, TASK_PATHS.sign, task, { task, reports: [] }),
        refusedWith('policy_content_mismatch'),
      );
    });

    it('when asked for PolicyData', async () => {
      const task = await assignment(strictPolicy);
      await assert.rejects(sendAsGateway({ id: 'mirror', url }, TASK_PATHS.policyData, task, { task }), refusedWith('policy_content_mismatch'));
    });
  });
});

describe('registry snapshots: stake changes on chain', () => {
  let policyId: Hex;
  before(async () => {
    policyId = await createPolicy({ maxValue: 1_000_000, blocked: [] });
  });

  it('judges new tasks under the new snapshot and old attestations under theirs', async () => {
    const old: Attestation = (await submit({ intent: intent(), policyId })).body.attestation;
    assert.equal(old.totalStake, '100');
    await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, 'operator-1', 10n);
    try {
      const res = await submit({ intent: intent({ value: '2' }), policyId });
      const fresh: Attestation = res.body.attestation;
      assert.ok(fresh.registryBlock > old.registryBlock);
      assert.equal(fresh.totalStake, '60');
      assert.equal(res.body.totalStake, '60');
      // Both verify, each against its own snapshot, at the endpoint and in the library.
      for (const a of [old, fresh]) {
        assert.deepEqual((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: a })).body, { valid: true, reasons: [] });
        assert.deepEqual(verifyAttestation(a, await snapshotOf(a), { now: nowS(), policyThresholdBps: 6700 }), { valid: true, reasons: [] });
      }
      assert.deepEqual(
        verifyAttestation(old, await snapshotOf(fresh), { now: nowS(), policyThresholdBps: 6700 }).reasons.includes('registry_snapshot_mismatch'),
        true,
      );
    } finally {
      await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, 'operator-1', 50n);
    }
  });

  /** Puts every operator back at its launch stake, whatever a test changed. */
  async function restoreStakes(): Promise<void> {
    for (const o of operators) await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, o.id, BigInt(o.stake));
  }

  it('leaves zero-stake operators out of tasks and quorums', async () => {
    await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, 'operator-3', 0n);
    try {
      const res = await submit({ intent: intent({ value: '3' }), policyId });
      assert.equal(res.body.status, 'completed', JSON.stringify(res.body));
      assert.equal(res.body.totalStake, '80');
      const view = await waitForTask(res.body.taskId, (v) => v.verdicts?.[0]?.signers.length === 2);
      assert.ok(!view.signers.includes('operator-3') && !view.nonSigners.includes('operator-3'), 'operator-3 was not asked');
      // operator-3 signing alone at this snapshot (its key is still real): no member, no quorum.
      const lone = await colludingAttestation(['operator-3'], { policyId });
      const verify = await postJson(`${stack.gateway}/v1/attestations/verify`, {
        attestation: { ...lone, signers: ['operator-3'], nonSigners: ['operator-1', 'operator-2'] },
      });
      assert.equal(verify.body.valid, false);
      assert.ok(verify.body.reasons.includes('unknown_signer') && verify.body.reasons.includes('quorum_not_met'), verify.body.reasons.join());
    } finally {
      await restoreStakes();
    }
  });

  it('refuses intents when no stake is left', async () => {
    for (const o of operators) await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, o.id, 0n);
    try {
      const none = await submit({ intent: intent({ value: '4' }), policyId });
      assert.equal(none.status, 503);
      assert.equal(none.body.error.code, 'no_operators');
    } finally {
      await restoreStakes();
    }
  });
});

describe('unauthenticated intents are rate-limited per caller', () => {
  it('refuses a caller over its budget with 429, creating nothing, while other callers are served', async () => {
    const policyId = await createPolicy({ maxValue: 1_000_000, blocked: [] });
    const before = ((await call(`${stack.gateway}/v1/tasks?limit=100`)).body.tasks as unknown[]).length;
    const anonymous = { 'cf-connecting-ip': '203.0.113.7' };
    // Cheap requests (malformed bodies) spend the budget as well: the limit runs before anything is read.
    let limited: Awaited<ReturnType<typeof postJson<any>>> | undefined;
    for (let i = 0; i < 2000 && !limited; i++) {
      const res = await postJson(`${stack.gateway}/v1/intents`, {}, anonymous);
      if (res.status === 429) limited = res;
      else assert.equal(res.status, 400, JSON.stringify(res.body));
    }
    assert.ok(limited, 'the anonymous caller was limited');
    assert.equal(limited.body.error.code, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    const valid = await postJson(`${stack.gateway}/v1/intents`, { intent: intent(), policyId }, anonymous);
    assert.equal(valid.status, 429, 'a valid intent from the limited caller is refused too');
    assert.equal(((await call(`${stack.gateway}/v1/tasks?limit=100`)).body.tasks as unknown[]).length, before, 'no task was created');
    // An API-key caller is not starved by the anonymous one.
    const served = await submit({ intent: intent(), policyId });
    assert.equal(served.status, 200, JSON.stringify(served.body));
    assert.equal(served.body.status, 'completed');
  });
});

describe('quorum with operators down', () => {
  let policyId: Hex;
  let policy90: Hex;
  before(async () => {
    policyId = await createPolicy({ maxValue: 1_000_000, blocked: [] });
    policy90 = await createPolicy({ maxValue: 1_000_000, blocked: [] }, 9000);
  });

  it('forms the quorum without the stopped 20-stake operator, but not for a policy that asks 90 %', async () => {
    await stopOperator('operator-3');
    const res = await submit({ intent: intent(), policyId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const a: Attestation = res.body.attestation;
    assert.deepEqual(a.signers, ['operator-1', 'operator-2']);
    assert.deepEqual(a.nonSigners, ['operator-3']);
    assert.equal(a.signedStake, '80');
    assert.deepEqual(verifyAttestation(a, await snapshotOf(a), { now: nowS(), policyThresholdBps: 6700 }), { valid: true, reasons: [] });
    const strict = await submit({ intent: intent(), policyId: policy90, deadlineSeconds: 4, waitMs: 0 });
    const view = await waitForTask(strict.body.taskId, (v) => v.status === 'failed' || v.status === 'completed');
    assert.equal(view.status, 'failed');
    assert.equal(view.failure.code, 'deadline_exceeded');
    assert.match(view.failure.message, /signed stake 80 of 100, threshold 9000 bps needs 90/);
  });

  it('fails at the deadline with the reason when the stake left is below the threshold', async () => {
    // Both the 30- and the 20-stake operators down, whichever test stopped them: 50 of 100 left.
    await stopOperator('operator-2');
    await stopOperator('operator-3');
    const res = await submit({ intent: intent(), policyId, deadlineSeconds: 4, waitMs: 0 });
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
