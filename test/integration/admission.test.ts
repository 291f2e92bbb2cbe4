import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { compilePolicy, toValue } from '../../core/rego';
import { REPO_ROOT } from '../../local-stack/demo-models';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';
import { evaluateRule, type CompiledAdmission } from '../../workers/policies/admission';
import { call, postJson } from '../support/gateway-client';
import { seededRandom } from '../support/seeded-random';
import { sharedStack } from '../support/test-stack';
import { balances, paymentHeader, requirementsOf } from '../support/x402-payer';
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { authorizationNonceKey } from '../../core/x402';
import { paymentRecordId } from '../../workers/payments/payment-record-id';

let stack: LocalStackFile;
before(async () => {
  stack = await sharedStack();
});

const rego = readFileSync(`${REPO_ROOT}/policies/admission.rego`, 'utf8');
const baseParams = JSON.parse(readFileSync(`${REPO_ROOT}/policies/admission.params.json`, 'utf8')) as Record<string, unknown>;
const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });
const inputs = { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } };

describe('policies', () => {
  describe('refuses Rego that does not compile, with OPA-style file:row:col messages, and stores nothing', () => {
    it('a parse error', async () => {
      const bad = await postJson(`${stack.gateway}/v1/policies`, { modules: { 'bad.rego': 'package x\n\nallow if {\n  input.a ==\n}\n' } }, admin());
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_policy');
      assert.match(bad.body.error.message, /^bad\.rego:\d+:\d+: rego_parse_error: /);
    });

    it('an unsafe variable', async () => {
      const unsafe = await postJson(`${stack.gateway}/v1/policies`, { modules: { 'u.rego': 'package x\n\nallow if {\n  y > 1\n}\n' } }, admin());
      assert.equal(unsafe.body.error.code, 'invalid_policy');
      assert.match(unsafe.body.error.message, /u\.rego:4:\d+: rego_unsafe_var_error: var y is unsafe/);
    });

    it('an unknown builtin', async () => {
      const unknown = await postJson(
        `${stack.gateway}/v1/policies`,
        { modules: { 'b.rego': 'package x\n\nallow if no_such.builtin(1)\n' } },
        admin(),
      );
      assert.equal(unknown.body.error.code, 'invalid_policy');
    });

    it('without the admin token: 401', async () => {
      assert.equal((await postJson(`${stack.gateway}/v1/policies`, { modules: { 'a.rego': rego } })).status, 401);
    });

    it('no modules: invalid_request', async () => {
      assert.equal((await postJson(`${stack.gateway}/v1/policies`, { modules: {} }, admin())).body.error.code, 'invalid_request');
    });
  });

  it('gives a policy its content hash as id, idempotently', async () => {
    const body = { modules: { 'admission.rego': rego }, params: baseParams };
    const first = await postJson(`${stack.gateway}/v1/policies`, body, admin());
    assert.ok([200, 201].includes(first.status), JSON.stringify(first.body));
    assert.match(first.body.id, /^0x[0-9a-f]{64}$/);
    const again = await postJson(`${stack.gateway}/v1/policies`, body, admin());
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    assert.equal(again.body.created, false);
    const fetched = await call(`${stack.gateway}/v1/policies/${first.body.id}`);
    assert.deepEqual(fetched.body.modules, body.modules);
    assert.equal(fetched.body.entrypoint, 'data.proofgate.admission');
    assert.equal(fetched.body.thresholdBps, 6700);
  });

  it("admits one caller and denies another with the policy's reasons, before the body is even read", async () => {
    const alice = (await postJson(`${stack.gateway}/v1/api-keys`, { label: 'alice' }, admin())).body;
    const bob = (await postJson(`${stack.gateway}/v1/api-keys`, { label: 'bob' }, admin())).body;
    assert.match(alice.key, /^pgk_[0-9a-f]{48}$/);
    const params = { ...baseParams, blockedCallers: [bob.id] };
    const policy = (await postJson(`${stack.gateway}/v1/policies`, { modules: { 'admission.rego': rego }, params }, admin())).body;
    const model = 'guarded-add';
    const upload = await call(`${stack.gateway}/v1/models/${model}/versions`, {
      method: 'POST',
      headers: admin(),
      body: testModels('-guarded')[0]!.bytes,
    });
    assert.equal(upload.status, 201);
    assert.equal(
      (await call(`${stack.gateway}/v1/models/${model}/policy`, { method: 'PUT', headers: admin(), body: JSON.stringify({ policyId: policy.id }) }))
        .status,
      200,
    );
    const infer = `${stack.gateway}/v1/models/${model}/infer`;

    const admitted = await postJson(infer, { inputs }, { authorization: `Bearer ${alice.key}` });
    assert.equal(admitted.status, 200, JSON.stringify(admitted.body));
    assert.deepEqual(admitted.body.outputs.sum.data, [2, 3, 4, 5]);

    // Bob's request carries a body that would be a 400: the 403 shows the policy ran first.
    const denied = await call(infer, { method: 'POST', headers: { authorization: `Bearer ${bob.key}` }, body: '{not json' });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'policy_denied');
    assert.deepEqual(denied.body.error.reasons, [`caller ${bob.id} is blocked`]);
    assert.equal(denied.body.error.policyId, policy.id);

    const anonymous = await postJson(infer, { inputs }, { 'cf-ipcountry': 'XX' });
    assert.equal(anonymous.status, 403);
    assert.deepEqual(anonymous.body.error.reasons, ['anonymous callers are not admitted', 'requests from XX are not served']);
    assert.equal((await postJson(infer, { inputs }, { authorization: `Bearer pgk_${'0'.repeat(48)}` })).body.error.code, 'invalid_api_key');

    assert.equal((await call(`${stack.gateway}/v1/models/${model}/policy`, { method: 'DELETE', headers: admin() })).body.removed, true);
    assert.equal((await postJson(infer, { inputs })).status, 200);
  });

  it('denies a paying caller before the payment is touched: nothing reserved, nothing charged', async () => {
    const payer = privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
    const params = { ...baseParams, blockedCallers: [payer.address.toLowerCase()] };
    const policy = (await postJson(`${stack.gateway}/v1/policies`, { modules: { 'admission.rego': rego }, params }, admin())).body;
    const model = 'guarded-paid';
    assert.equal(
      (
        await call(`${stack.gateway}/v1/models/${model}/versions?price=1000`, {
          method: 'POST',
          headers: admin(),
          body: testModels('-guarded-paid')[0]!.bytes,
        })
      ).status,
      201,
    );
    const infer = `${stack.gateway}/v1/models/${model}/infer`;
    const requirements = await requirementsOf(infer, JSON.stringify({ inputs }));
    assert.equal(
      (await call(`${stack.gateway}/v1/models/${model}/policy`, { method: 'PUT', headers: admin(), body: JSON.stringify({ policyId: policy.id }) }))
        .status,
      200,
    );
    const { header, nonce } = await paymentHeader(payer, requirements);
    const balanceOf = balances(stack);
    const before = await balanceOf(payer.address);
    const denied = await postJson(infer, { inputs }, { 'payment-signature': header });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body.error.reasons, [`caller ${payer.address.toLowerCase()} is blocked`]);
    assert.equal(await balanceOf(payer.address), before);
    const id = await paymentRecordId(authorizationNonceKey(stack.chain!.chainId, requirements.asset as Hex, payer.address, nonce));
    assert.equal((await call(`${stack.gateway}/v1/payments/${id}`)).status, 404);
  });

  it('evaluates a policy identically in workerd and in Node', async () => {
    const params = { ...baseParams, blockedCallers: ['key_bad'], tiers: { key_r: 'restricted' } };
    const policy = (await postJson(`${stack.gateway}/v1/policies`, { modules: { 'admission.rego': rego }, params }, admin())).body;
    const local: CompiledAdmission = {
      id: policy.id,
      compiled: compilePolicy({ 'admission.rego': rego }),
      entrypoint: 'data.proofgate.admission',
      data: toValue({ params }),
    };
    const rand = seededRandom(3);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (let i = 0; i < 25; i++) {
      const input = {
        caller: pick([null, 'key_ok', 'key_bad', 'key_r']),
        model: pick(['a', 'b']),
        version: pick([1, 2]),
        price: pick(['0', '2000000', '7']),
        method: pick(['POST', 'GET']),
        path: '/v1/models/a/infer',
        headers: { 'user-agent': pick(['curl/8', 'BadBot/1']), 'cf-ipcountry': pick(['DE', 'XX']) },
        time: `2026-11-25T${String(Math.floor(rand() * 24)).padStart(2, '0')}:00:00Z`,
      };
      for (const rule of ['data.proofgate.admission.allow', 'data.proofgate.admission.deny', 'data.proofgate.admission.tier']) {
        const worker = await postJson(`${stack.gateway}/v1/policies/${policy.id}/evaluate`, { input, rule, time: input.time }, admin());
        assert.equal(worker.status, 200, JSON.stringify(worker.body));
        assert.deepEqual(worker.body.value, evaluateRule(local, rule, input, Date.parse(input.time)), `${rule} on ${JSON.stringify(input)}`);
      }
    }
  });
});
