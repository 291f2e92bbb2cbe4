import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { registrationTypedData } from '../../core/backend-protocol';
import { GATEWAY_HEADERS, signGatewayRequest } from '../../core/node-protocol';
import { verifyReceipt } from '../../core/receipts';
import { TENSORS_MEDIA_TYPE, encodeTensors, sha256Hex, tensorFromJson } from '../../core/tensors';
import { createBackendServer } from '../../gpu-backend/backend-server';
import { RegistrationRefusedError } from '../../core/node-protocol';
import { GatewayClient } from '../../gpu-backend/gateway-client';
import { ModelCache } from '../../gpu-backend/model-cache';
import { SessionPool } from '../../gpu-backend/session-pool';
import type { LocalStack } from '../../local-stack/launch';
import { call, postJson } from '../support/gateway-client';
import { authorizationNonceKey } from '../../core/x402';
import { paymentRecordId } from '../../workers/payments/payment-record-id';
import { PAID_PRICE, launchTestStack } from '../support/test-stack';
import { balances, paymentHeader, requirementsOf } from '../support/x402-payer';

// A stack of its own, with no backend processes: this file attaches in-process backends (real
// onnxruntime, real keys), some honest, some not, and watches what the Worker accepts.

let stack: LocalStack;
const stops: (() => Promise<void> | void)[] = [];
before(async () => {
  stack = await launchTestStack({ backends: 0 });
  balanceOf = balances(stack);
});
after(async () => {
  for (const stop of stops.reverse()) await stop();
  await stack.stop();
});

const inputs = {
  a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] },
  b: { type: 'float32', dims: [1, 4], data: [10, 20, 30, 40] },
};
const infer = () => postJson(`${stack.gateway}/v1/models/tiny-add/infer`, { inputs });
const paidUrl = () => `${stack.gateway}/v1/models/paid-add/infer`;
const payer = () => privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
let balanceOf: (a: string) => Promise<bigint>;
let paid: { header: string; nonce: Hex } | undefined;

interface TestBackend {
  address: Hex;
  client: GatewayClient;
  served: Hex[];
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  stops.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An in-process backend registered with `registerAs` whose receipts are signed by `signAs`. */
async function attachBackend(registerAs: PrivateKeyAccount, signAs: PrivateKeyAccount = registerAs): Promise<TestBackend> {
  const sessions = new SessionPool(new ModelCache(await mkdtemp(join(tmpdir(), 'pg-cache-')), stack.gateway), 'cpu');
  const served: Hex[] = [];
  let client: GatewayClient | undefined;
  const { server } = createBackendServer({ account: signAs, sessions, executionProvider: 'cpu', authKey: () => client?.currentAuthKey() ?? null });
  server.prependListener('request', (req) => {
    served.push(req.headers[GATEWAY_HEADERS.requestId] as Hex);
  });
  const url = await listen(server);
  client = new GatewayClient({
    gatewayUrl: stack.gateway,
    operatorToken: stack.operatorToken,
    account: registerAs,
    publicUrl: url,
    executionProvider: 'cpu',
    models: '*',
    inFlight: () => 0,
    log: () => {},
  });
  await client.start(10_000);
  stops.push(
    () => {
      client!.stop();
    },
    () => sessions.close(),
  );
  return { address: registerAs.address, client, served };
}

/** A backend that registers properly and then answers every call with HTTP 500. */
async function attachBrokenBackend(account: PrivateKeyAccount): Promise<TestBackend> {
  const served: Hex[] = [];
  const server = createServer((req, res) => {
    served.push(req.headers[GATEWAY_HEADERS.requestId] as Hex);
    res.writeHead(500).end('boom');
  });
  const url = await listen(server);
  const client = new GatewayClient({
    gatewayUrl: stack.gateway,
    operatorToken: stack.operatorToken,
    account,
    publicUrl: url,
    executionProvider: 'cpu',
    models: '*',
    inFlight: () => 0,
    log: () => {},
  });
  await client.start(10_000);
  stops.push(() => {
    client.stop();
  });
  return { address: account.address, client, served };
}

describe('backend pool and receipt checks in the Worker', () => {
  it('answers 503 no_backend_available with Retry-After while no backend is registered', async () => {
    const res = await infer();
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'no_backend_available');
    assert.equal(res.headers.get('retry-after'), '5');
  });

  it('refuses registrations without the operator token, with a forged signature, or stale', async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const attacker = privateKeyToAccount(generatePrivateKey());
    const registration = {
      backend: key.address,
      url: 'http://127.0.0.1:9',
      executionProvider: 'cpu',
      models: '*',
      issuedAt: Math.floor(Date.now() / 1000),
    };
    const signature = await key.signTypedData(registrationTypedData(registration));
    const url = `${stack.gateway}/v1/backends/register`;
    const auth = { authorization: `Bearer ${stack.operatorToken}` };
    assert.equal((await postJson(url, { registration, signature })).status, 401);
    assert.equal((await postJson(url, { registration, signature }, { authorization: 'Bearer wrong' })).status, 401);
    const forged = await attacker.signTypedData(registrationTypedData(registration));
    assert.equal((await postJson(url, { registration, signature: forged }, auth)).body.error.code, 'invalid_signature');
    const stale = { ...registration, issuedAt: registration.issuedAt - 3600 };
    assert.equal(
      (await postJson(url, { registration: stale, signature: await key.signTypedData(registrationTypedData(stale)) }, auth)).body.error.code,
      'stale_message',
    );
    assert.equal((await postJson(url, { registration: { ...registration, url: 'ftp://x' }, signature }, auth)).body.error.code, 'invalid_request');
    const badToken = new GatewayClient({
      gatewayUrl: stack.gateway,
      operatorToken: 'wrong',
      account: key,
      publicUrl: 'http://127.0.0.1:9',
      executionProvider: 'cpu',
      models: '*',
      inFlight: () => 0,
      log: () => {},
    });
    await assert.rejects(badToken.start(5_000), RegistrationRefusedError);
    assert.deepEqual((await call(`${stack.gateway}/v1/backends`)).body.backends, []);
  });

  it('rejects a receipt signed by a key other than the registered one, retries once, then answers 502 and charges nothing', async () => {
    const rogue = await attachBackend(privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey()));
    const broken = await attachBrokenBackend(privateKeyToAccount(generatePrivateKey()));
    // A paid call: the authorization is reserved, the work fails, and the reservation is released.
    const requirements = await requirementsOf(paidUrl(), JSON.stringify({ inputs }));
    paid = await paymentHeader(payer(), requirements);
    const before = await balanceOf(payer().address);
    const res = await postJson(paidUrl(), { inputs }, { 'payment-signature': paid.header });
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'backend_failed');
    assert.equal(await balanceOf(payer().address), before);
    const record = await call(
      `${stack.gateway}/v1/payments/${await paymentRecordId(authorizationNonceKey(stack.chain!.chainId, requirements.asset as Hex, payer().address, paid.nonce))}`,
    );
    assert.equal(record.body.state, 'released');
    assert.equal(rogue.served.length, 1);
    assert.equal(broken.served.length, 1);
    // The rogue computed a result, but it was neither returned nor stored.
    assert.equal((await call(`${stack.gateway}/v1/receipts/${rogue.served[0]}`)).status, 404);
    const health = (await call(`${stack.gateway}/v1/backends`)).body.backends;
    assert.deepEqual(
      health.map((b: { healthy: boolean; inFlight: number }) => [b.healthy, b.inFlight]),
      [
        [false, 0],
        [false, 0],
      ],
    );
    assert.equal((await infer()).body.error.code, 'no_backend_available', 'failed backends rest before they are tried again');
  });

  it('serves from an honest backend, whose receipt verifies, while the failed ones cool down; the released authorization pays', async () => {
    const honestKey = privateKeyToAccount(generatePrivateKey());
    const honest = await attachBackend(honestKey);
    const before = await balanceOf(payer().address);
    const res = await postJson(paidUrl(), { inputs }, { 'payment-signature': paid!.header });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.payment.state, 'settled');
    assert.equal(await balanceOf(payer().address), before - BigInt(PAID_PRICE));
    assert.equal(res.body.receipt.backend, honestKey.address);
    assert.deepEqual(res.body.outputs.sum.data, [11, 22, 33, 44]);
    assert.equal((await verifyReceipt(res.body.receipt, { inputs, outputs: res.body.outputs, trustedBackends: [honestKey.address] })).valid, true);
    assert.equal(honest.served.length, 1);
  });

  it('lets only the gateway call a backend: unsigned, forged, tampered and replayed requests are refused', async () => {
    const key = privateKeyToAccount(generatePrivateKey());
    const backend = await attachBackend(key);
    const backends = (await call(`${stack.gateway}/v1/backends`, { headers: { authorization: `Bearer ${stack.adminToken}` } })).body.backends;
    const url = backends.find((b: { address: string }) => b.address === key.address).url as string;
    assert.equal((await call(`${stack.gateway}/v1/backends`)).body.backends[0].url, undefined, 'URLs are for admins only');
    const models = (await call(`${stack.gateway}/v1/models`)).body.models;
    const modelSha256 = models.find((m: { name: string }) => m.name === 'tiny-add').sha256 as Hex;
    const body = encodeTensors({ a: tensorFromJson('a', inputs.a), b: tensorFromJson('b', inputs.b) });
    const requestId = `0x${'5a'.repeat(32)}` as Hex;
    const timestamp = Date.now();
    const send = (signature: string, payload: Uint8Array = body) =>
      fetch(`${url}/v1/run`, {
        method: 'POST',
        headers: {
          'content-type': TENSORS_MEDIA_TYPE,
          [GATEWAY_HEADERS.requestId]: requestId,
          [GATEWAY_HEADERS.subject]: modelSha256,
          [GATEWAY_HEADERS.timestamp]: String(timestamp),
          [GATEWAY_HEADERS.signature]: signature,
        },
        body: payload,
      });
    assert.equal((await send('')).status, 401);
    assert.equal((await send(`0x${'00'.repeat(32)}`)).status, 401);
    const signature = await signGatewayRequest(backend.client.currentAuthKey()!, {
      method: 'POST',
      path: '/v1/run',
      requestId,
      subject: modelSha256,
      bodySha256: await sha256Hex(body),
      timestamp,
    });
    const tampered = body.slice();
    tampered[tampered.length - 1]! ^= 1;
    assert.equal((await send(signature, tampered)).status, 401);
    assert.equal((await send(signature)).status, 200);
    const replay = await send(signature);
    assert.equal(replay.status, 409);
  });
});
