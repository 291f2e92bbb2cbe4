import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { bytesToHex, type Hex } from 'viem';
import { generateKeyPair } from '../../core/attestation';
import { POLICY_DATA_SECRETS_PATH, SECRETS_REQUEST_HEADERS, signSecretsRequest } from '../../core/policy-data-secrets';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { buildPolicyData } from '../../policies/policy-data/build';
import { buildNewtonComponent, buildNewtonWatComponent } from '../../policies/policy-data/newton-components';
import { registrationBody } from '../../signer-node/gateway-registration';
import { operatorKeyFromSecret } from '../../signer-node/operator-key';
import { call, postJson } from '../support/gateway-client';
import { sharedStack } from '../support/test-stack';

// Newton PolicyData at the gateway: components are stored beside core modules, and a policy
// client's secrets for a PolicyData binary are stored sealed, shown by name only, and handed only
// to an operator of a live task (the delivery itself runs in test/e2e/newton-policy-data.test.ts).

let stack: LocalStackFile;
let component: { sha256: Hex };
const CLIENT = '0x00000000000000000000000000000000000c11e7';
const admin = () => ({ authorization: `Bearer ${stack.adminToken}` });

async function upload(bytes: Uint8Array, headers: Record<string, string> = admin()) {
  return call(`${stack.gateway}/v1/policy-data`, { method: 'POST', headers: { ...headers, 'content-type': 'application/wasm' }, body: bytes });
}

async function putSecrets(sha256: string, client: string, body: unknown, headers: Record<string, string> = admin()) {
  return call(`${stack.gateway}/v1/policy-data/${sha256}/secrets/${client}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

before(async () => {
  stack = await sharedStack();
  const built = await buildNewtonComponent('screening');
  const res = await upload(built.bytes);
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  component = res.body;
});

describe('PolicyData uploads', () => {
  it('stores components beside core modules, telling which each is', async () => {
    assert.equal((component as unknown as { kind: string }).kind, 'component');
    const v01 = await upload((await buildNewtonWatComponent('status-v01')).bytes);
    assert.equal(v01.body.kind, 'component');
    const core = await upload((await buildPolicyData('intent-risk')).bytes);
    assert.equal(core.body.kind, 'core-module');
    const fetched = await fetch(`${stack.gateway}/v1/policy-data/${component.sha256}`);
    assert.equal(fetched.status, 200);
    const served = new Uint8Array(await fetched.arrayBuffer());
    assert.equal(bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', served))), component.sha256);
  });

  it('refuses WebAssembly of another version or layer, with a stable code', async () => {
    const res = await upload(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0e, 0x00, 0x01, 0x00, 0, 0]));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_wasm');
  });
});

describe('PolicyData secrets', () => {
  it('stores a policy client’s secrets for an uploaded binary and shows their names only', async () => {
    const put = await putSecrets(component.sha256, CLIENT, { secrets: { SCREENING_API_KEY: 'sk_live_secret_value_1', OTHER_KEY: 'other' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.names, ['OTHER_KEY', 'SCREENING_API_KEY']);
    assert.equal(put.body.policyData, component.sha256);
    const got = await call(`${stack.gateway}/v1/policy-data/${component.sha256}/secrets/${CLIENT}`, { headers: admin() });
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.names, ['OTHER_KEY', 'SCREENING_API_KEY']);
    assert.ok(!JSON.stringify(got.body).includes('sk_live'), 'values are never served back');
    const replaced = await putSecrets(component.sha256, CLIENT, { secrets: { SCREENING_API_KEY: 'sk_live_secret_value_2' } });
    assert.deepEqual(replaced.body.names, ['SCREENING_API_KEY']);
  });

  describe('is for the admin only, and refuses bad input without storing anything', () => {
    const other = '0x00000000000000000000000000000000000c11e8';
    /** Nothing is stored for `other`, whatever was refused before. */
    const nothingStored = async () => {
      const none = await call(`${stack.gateway}/v1/policy-data/${component.sha256}/secrets/${other}`, { headers: admin() });
      assert.equal(none.status, 404);
      assert.equal(none.body.error.code, 'secrets_not_found');
    };

    it('refuses to store without the admin token: 401', async () => {
      assert.equal((await putSecrets(component.sha256, other, { secrets: { A: 'b' } }, {})).status, 401);
      await nothingStored();
    });

    it('refuses to read without the admin token: 401', async () => {
      assert.equal((await call(`${stack.gateway}/v1/policy-data/${component.sha256}/secrets/${other}`)).status, 401);
    });

    const cases: [string, () => [string, string, unknown], number, string][] = [
      ['a secret name a module cannot ask for', () => [component.sha256, other, { secrets: { '1BAD': 'x' } }], 400, 'invalid_request'],
      ['a secret value that is no string', () => [component.sha256, other, { secrets: { A: 1 } }], 400, 'invalid_request'],
      ['a policy client that is no address', () => [component.sha256, 'not-an-address', { secrets: { A: 'b' } }], 400, 'invalid_request'],
      ['a sha256 that is none', () => ['0x1234', other, { secrets: { A: 'b' } }], 400, 'invalid_sha256'],
      ['an unknown module', () => [`0x${'77'.repeat(32)}`, other, { secrets: { A: 'b' } }], 404, 'policy_data_not_found'],
    ];
    for (const [name, request, status, code] of cases) {
      it(`${name}: ${status} ${code}`, async () => {
        const [sha256, client, body] = request();
        const res = await putSecrets(sha256, client, body);
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.error.code, code);
        await nothingStored();
      });
    }
  });

  it('deletes them', async () => {
    const client = '0x00000000000000000000000000000000000c11e9';
    assert.equal((await putSecrets(component.sha256, client, { secrets: { A: 'b' } })).status, 200);
    const del = await call(`${stack.gateway}/v1/policy-data/${component.sha256}/secrets/${client}`, { method: 'DELETE', headers: admin() });
    assert.equal(del.status, 204);
    const again = await call(`${stack.gateway}/v1/policy-data/${component.sha256}/secrets/${client}`, { method: 'DELETE', headers: admin() });
    assert.equal(again.body.error.code, 'secrets_not_found');
  });

  it('hands secrets to no one but an operator of a live task', async () => {
    const deliver = (headers: Record<string, string>, body: unknown = { taskId: `0x${'12'.repeat(32)}`, sha256: component.sha256 }) =>
      postJson(`${stack.gateway}${POLICY_DATA_SECRETS_PATH}`, body, headers);
    assert.equal((await deliver({})).status, 401);
    const key = operatorKeyFromSecret(generateKeyPair(crypto.getRandomValues(new Uint8Array(32))).secretKey);
    const id = `secrets-probe-${bytesToHex(crypto.getRandomValues(new Uint8Array(4))).slice(2)}`;
    const registered = await postJson(
      `${stack.gateway}/v1/operators/register`,
      registrationBody({ key, publicUrl: 'http://127.0.0.1:9' }, id, Math.floor(Date.now() / 1000)),
      { authorization: `Bearer ${stack.operatorToken}` },
    );
    assert.ok(registered.status === 201 || registered.status === 200, JSON.stringify(registered.body));
    const authKey = registered.body.authKey as Hex;
    const signed = async (overrides: Partial<{ operatorId: string; timestamp: number; key: Hex }> = {}) => {
      const request = {
        operatorId: overrides.operatorId ?? id,
        taskId: `0x${'12'.repeat(32)}` as Hex,
        sha256: component.sha256,
        timestamp: overrides.timestamp ?? Date.now(),
      };
      return {
        [SECRETS_REQUEST_HEADERS.operator]: id,
        [SECRETS_REQUEST_HEADERS.timestamp]: String(request.timestamp),
        [SECRETS_REQUEST_HEADERS.signature]: await signSecretsRequest(overrides.key ?? authKey, request),
      };
    };
    const forged = await deliver(await signed({ key: bytesToHex(crypto.getRandomValues(new Uint8Array(32))) }));
    assert.equal(forged.status, 401);
    assert.equal(forged.body.error.code, 'invalid_signature');
    assert.equal((await deliver(await signed({ operatorId: 'operator-1' }))).status, 401, 'signed for another operator');
    assert.equal((await deliver(await signed({ timestamp: Date.now() - 5 * 60_000 }))).status, 401, 'stale');
    const noTask = await deliver(await signed());
    assert.equal(noTask.status, 404);
    assert.equal(noTask.body.error.code, 'task_not_found');
    assert.ok(!JSON.stringify(noTask.body).includes('sk_live'));
    assert.equal((await deliver(await signed(), { taskId: 'nope', sha256: component.sha256 })).status, 400);
  });
});
