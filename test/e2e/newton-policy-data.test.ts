import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeFunctionData, parseAbi, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startAnvil, type AnvilInstance } from '../../chain/anvil';
import { connect } from '../../chain/clients';
import { readRegistrySnapshot, verifyAttestation, type Attestation } from '../../core/attestation';
import { REPO_ROOT } from '../../local-stack/demo-models';
import type { LocalStack } from '../../local-stack/launch';
import { deployOperatorChain, launchOperators, type DeployedOperatorChain } from '../../local-stack/operators';
import { ProcessGroup } from '../../local-stack/process-group';
import { buildNewtonComponent } from '../../policies/policy-data/newton-components';
import { call, postJson } from '../support/gateway-client';
import { launchTestStack } from '../support/test-stack';
import { pollUntil } from '../support/poll';

// Newton Protocol's PolicyData on the real stack: a JavaScript pack built against
// newton:provider@0.2.0 (policies/policy-data/newton/screening.js) is uploaded as it is, its
// policy client's API key is stored at the gateway, and three signer nodes (stakes 50/30/20) run it:
// it reads the key with secrets.get and calls a screening API on loopback through http.fetch. Its
// output, merged into data.wasm, feeds a Newton-style Rego policy that checks the API's signature
// with newton.crypto.ecdsa_recover_signer_personal and reads Newton's intent fields.

const API_KEY = 'sk_screening_e2e_51f0c2a9';
const PACK_ID = 'screening';
const provider = privateKeyToAccount(generatePrivateKey());
const impostor = privateKeyToAccount(generatePrivateKey());
const CLIENT: Address = '0x00000000000000000000000000000000000c11e4';
const OTHER_CLIENT: Address = '0x00000000000000000000000000000000000c11e5';
const TRANSFER = 'transfer(address to, uint256 amount)';
const SANCTIONED = '0x00000000000000000000000000000000000badad';
const UNSIGNED = '0x000000000000000000000000000000000000f00d';

let anvil: AnvilInstance;
let chain: DeployedOperatorChain;
let stack: LocalStack;
let api: Server;
let apiHost: string;
const screenings: IncomingMessage[] = [];
let screeningSha: Hex;
let probeSha: Hex;
let policyId: Hex;
let probePolicy: Hex;
const group = new ProcessGroup();
const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });

/** The screening API: answers for the address in the path, signed by `provider`, only with the API key. */
async function startScreeningApi(): Promise<void> {
  api = createServer((req, res) => {
    screenings.push(req);
    const address = req.url?.match(/^\/v1\/screen\/(0x[0-9a-f]{40})$/)?.[1];
    if (!address || req.headers['x-api-key'] !== API_KEY) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
      return;
    }
    const sanctioned = address === SANCTIONED;
    const risk = sanctioned ? 97 : 12;
    const signer = address === UNSIGNED ? impostor : provider;
    void signer.signMessage({ message: `${address}:${sanctioned}:${risk}` }).then((signature) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sanctioned, risk_score: risk, signature }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiHost = `127.0.0.1:${(api.address() as AddressInfo).port}`;
}

async function uploadComponent(name: 'screening' | 'limits-probe'): Promise<Hex> {
  const built = await buildNewtonComponent(name);
  const res = await call(`${stack.gateway}/v1/policy-data`, {
    method: 'POST',
    headers: { ...admin(), 'content-type': 'application/wasm' },
    body: built.bytes,
  });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  assert.equal(res.body.kind, 'component');
  assert.equal(res.body.sha256, built.sha256);
  return res.body.sha256;
}

async function createPolicy(body: Record<string, unknown>): Promise<Hex> {
  const res = await postJson(`${stack.gateway}/v1/policies`, body, admin());
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body.id;
}

/** Submits an intent from `from` paying `to`, with Newton's wasm_args and function signature, and waits for the final task. */
async function submit(opts: { from: Address; to?: Address; policy?: Hex; client?: Address; wasmArgs?: Record<string, unknown> }): Promise<any> {
  const to = opts.to ?? '0x2222222222222222222222222222222222222222';
  const res = await postJson(`${stack.gateway}/v1/intents`, {
    intent: {
      from: opts.from,
      to,
      value: '0',
      data: encodeFunctionData({ abi: parseAbi([`function ${TRANSFER}`]), args: [to, 1000n] }),
      chainId: anvil.chainId,
    },
    policyId: opts.policy ?? policyId,
    policyClient: opts.client ?? CLIENT,
    wasmArgs: opts.wasmArgs ?? { [PACK_ID]: { address: opts.from, endpoint: `http://${apiHost}` } },
    functionSignature: TRANSFER,
    deadlineSeconds: 30,
    waitMs: 30_000,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** The task's view once `done` holds; throws with the last view after 60 s. */
function taskView(taskId: string, done: (view: any) => boolean): Promise<any> {
  return pollUntil(`task ${taskId}`, async () => (await call(`${stack.gateway}/v1/tasks/${taskId}`)).body, done, {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
}

/** Submits until a task completes; a failure may only be the PolicyData phase running out of time. */
async function untilCompleted(attempt: () => Promise<any>, tries = 12): Promise<void> {
  for (let i = 0; ; i++) {
    const task = await attempt();
    if (task.status === 'completed') return;
    assert.equal(task.failure?.code, 'policy_data_no_consensus', JSON.stringify(task));
    assert.ok(i < tries, `no task completed in ${tries} tries: ${JSON.stringify(task)}`);
  }
}

before(async () => {
  await startScreeningApi();
  anvil = await startAnvil();
  chain = await deployOperatorChain(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
  stack = await launchTestStack({ backends: 0, models: [], payments: false, workerVars: chain.workerVars });
  await launchOperators({
    gateway: stack.gateway,
    operatorToken: stack.operatorToken,
    chain,
    stateDir: stack.stateDir,
    logsDir: stack.logsDir,
    group,
    stakes: [50n, 30n, 20n],
    policyDataHosts: [apiHost],
  });
  [screeningSha, probeSha] = [await uploadComponent('screening'), await uploadComponent('limits-probe')];
  const secrets = await call(`${stack.gateway}/v1/policy-data/${screeningSha}/secrets/${CLIENT}`, {
    method: 'PUT',
    headers: { ...admin(), 'content-type': 'application/json' },
    body: JSON.stringify({ secrets: { SCREENING_API_KEY: API_KEY } }),
  });
  assert.equal(secrets.status, 200, JSON.stringify(secrets.body));
  policyId = await createPolicy({
    modules: { 'screening.rego': await readFile(join(REPO_ROOT, 'policies', 'policy-data', 'newton', 'screening.rego'), 'utf8') },
    entrypoint: 'data.screening_gate',
    params: {
      screening: {
        provider: provider.address,
        max_risk_score: 50,
        blocked_recipients: ['0x000000000000000000000000000000000000dead'],
        chain_id: String(anvil.chainId),
      },
    },
    policyData: [{ name: PACK_ID, sha256: screeningSha }],
  });
  probePolicy = await createPolicy({
    modules: { 'probe.rego': 'package probe\n\nimport rego.v1\n\ndefault allow := false\n\nallow if data.wasm.probe.status == 200\n' },
    entrypoint: 'data.probe',
    params: {},
    policyData: [{ name: 'probe', sha256: probeSha }],
  });
  // A node fetches and transpiles a component the first time a task brings it (seconds on a busy
  // machine), which can outlast the PolicyData phase of the first tasks: submit until each policy
  // completes once, so the tests below measure the prepared nodes.
  await Promise.all([
    untilCompleted(() => submit({ from: '0x1111111111111111111111111111111111111111' })),
    untilCompleted(() => submit({ from: '0x1111111111111111111111111111111111111111', policy: probePolicy, wasmArgs: { mode: 'ok' } })),
  ]);
});
after(async () => {
  await group.stopAll();
  await stack?.stop();
  await anvil?.stop();
  await new Promise<void>((resolve) => (api ? api.close(() => resolve()) : resolve()));
});

describe('a Newton PolicyData component on the real stack', { timeout: 600_000 }, () => {
  it('attests an intent: every operator fetched with the policy client’s secret and computed the same data.wasm', async () => {
    const from: Address = '0x3333333333333333333333333333333333333333';
    const before = screenings.length;
    const task = await submit({ from });
    assert.equal(task.status, 'completed', JSON.stringify(task));
    const a: Attestation = task.attestation;
    assert.equal(a.allowed, true, JSON.stringify(a.reasons));
    // The pack's output (wrapped under its pack id) is the consensus value of the module.
    assert.deepEqual(Object.keys(task.policyData), [PACK_ID]);
    const output = task.policyData[PACK_ID][PACK_ID];
    assert.equal(output.address, from);
    assert.equal(output.sanctioned, false);
    assert.equal(output.risk_score, 12);
    assert.equal(output.checked_at, task.createdAt, 'the component saw the task’s clock');
    // One verdict, signed by all three operators (the last may sign after the quorum formed): every
    // node recomputed the same data.wasm from the signed reports and reached the same digest.
    const view = await taskView(task.taskId, (v) => v.verdicts?.[0]?.signers.length === 3);
    assert.equal(view.verdicts.length, 1, JSON.stringify(view.verdicts));
    assert.deepEqual([...view.verdicts[0].signers].sort(), ['operator-1', 'operator-2', 'operator-3']);
    assert.deepEqual(view.rejected, []);
    // Each node called the API itself, with the key the gateway delivered sealed to it.
    const calls = screenings.slice(before);
    assert.equal(calls.length, 3);
    for (const req of calls) {
      assert.equal(req.url, `/v1/screen/${from}`);
      assert.equal(req.headers['x-api-key'], API_KEY);
    }
    const { publicClient } = await connect(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
    const snapshot = await readRegistrySnapshot(publicClient, a.registry, a.registryBlock);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const expect = {
      now,
      policyThresholdBps: a.thresholdBps,
      expectedChainId: anvil.chainId,
      expectedPolicyId: policyId,
      expectedPolicyClient: CLIENT,
    };
    assert.deepEqual(verifyAttestation(a, snapshot, expect), { valid: true, reasons: [] });
    assert.deepEqual((await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: a })).body, { valid: true, reasons: [] });
  });

  it('denies what the policy finds in the merged data and in Newton’s intent fields', async () => {
    const sanctioned = await submit({ from: SANCTIONED });
    assert.equal(sanctioned.attestation.allowed, false);
    assert.deepEqual(sanctioned.attestation.reasons, ['risk_above_limit', 'sender_sanctioned']);
    const unsigned = await submit({ from: UNSIGNED });
    assert.deepEqual(unsigned.attestation.reasons, ['screening_not_attested'], 'the API’s signature is checked with newton.crypto');
    const blocked = await submit({ from: '0x4444444444444444444444444444444444444444', to: '0x000000000000000000000000000000000000dEaD' });
    assert.deepEqual(blocked.attestation.reasons, ['recipient_blocked'], 'input.decoded_function_arguments');
  });

  it('scopes secrets by policy client: another client’s task gets none, and fails cleanly', async () => {
    const task = await submit({ from: '0x5555555555555555555555555555555555555555', client: OTHER_CLIENT });
    assert.equal(task.status, 'failed', JSON.stringify(task));
    assert.equal(task.failure.code, 'policy_data_no_consensus');
    assert.equal(task.attestation, null);
  });

  it('fails the task cleanly when a component fetches a host outside the allow-list, or loops', async () => {
    const from: Address = '0x6666666666666666666666666666666666666666';
    const allowed = await submit({ from, policy: probePolicy, wasmArgs: { mode: 'fetch', url: `http://${apiHost}/v1/screen/${from}` } });
    assert.equal(allowed.status, 'completed', JSON.stringify(allowed));
    assert.equal(allowed.attestation.allowed, false, 'the API refused the probe (no key): status 401');
    for (const wasmArgs of [{ mode: 'fetch', url: 'http://127.0.0.2:9/x' }, { mode: 'loop' }]) {
      const task = await submit({ from, policy: probePolicy, wasmArgs });
      assert.equal(task.status, 'failed', JSON.stringify(task));
      assert.equal(task.failure.code, 'policy_data_no_consensus', JSON.stringify(task.failure));
      assert.equal(task.attestation, null);
    }
  });
});
