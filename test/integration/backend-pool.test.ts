import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { registrationTypedData } from '../../core/backend-protocol';
import { GATEWAY_HEADERS, signGatewayRequest } from '../../core/node-protocol';
import { verifyReceipt } from '../../core/receipts';
import { TENSORS_MEDIA_TYPE, encodeTensors, sha256Hex, tensorFromJson } from '../../core/tensors';
import { RegistrationRefusedError } from '../../core/node-protocol';
import { GatewayClient } from '../../gpu-backend/gateway-client';
import type { LocalStack } from '../../local-stack/launch';
import { call, postJson } from '../support/gateway-client';
import { attachInProcessBackend } from '../support/in-process-backend';
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
  const backend = await attachInProcessBackend(stack.gateway, stack.operatorToken, { registerAs, signAs });
  stops.push(() => backend.stop());
  return { address: registerAs.address, client: backend.client, served: backend.served };
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
    load: () => ({ inFlight: 0, queueDepth: 0, queueCapacity: 1, draining: false }),
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

  describe('refuses registrations without the operator token, with a forged signature, or stale', () => {
    /** A fresh backend key's registration, signed by that key. */
    async function registration() {
      const key = privateKeyToAccount(generatePrivateKey());
      const body = {
        backend: key.address,
        url: 'http://127.0.0.1:9',
        executionProvider: 'cpu',
        models: '*',
        issuedAt: Math.floor(Date.now() / 1000),
      };
      return { key, registration: body, signature: await key.signTypedData(registrationTypedData(body)) };
    }
    const url = () => `${stack.gateway}/v1/backends/register`;
    const auth = () => ({ authorization: `Bearer ${stack.operatorToken}` });

    it('without the operator token: 401', async () => {
      const { registration: r, signature } = await registration();
      assert.equal((await postJson(url(), { registration: r, signature })).status, 401);
    });

    it('with a wrong operator token: 401', async () => {
      const { registration: r, signature } = await registration();
      assert.equal((await postJson(url(), { registration: r, signature }, { authorization: 'Bearer wrong' })).status, 401);
    });

    it('signed by another key: invalid_signature', async () => {
      const { registration: r } = await registration();
      const forged = await privateKeyToAccount(generatePrivateKey()).signTypedData(registrationTypedData(r));
      assert.equal((await postJson(url(), { registration: r, signature: forged }, auth())).body.error.code, 'invalid_signature');
    });

    it('an hour old: stale_message', async () => {
      const { key, registration: r } = await registration();
      const stale = { ...r, issuedAt: r.issuedAt - 3600 };
      assert.equal(
        (await postJson(url(), { registration: stale, signature: await key.signTypedData(registrationTypedData(stale)) }, auth())).body.error.code,
        'stale_message',
      );
    });

    it('with a URL that is not HTTP: invalid_request', async () => {
      const { registration: r, signature } = await registration();
      assert.equal((await postJson(url(), { registration: { ...r, url: 'ftp://x' }, signature }, auth())).body.error.code, 'invalid_request');
    });

    it('from a backend client with a wrong token, which registers nothing', async () => {
      const { key } = await registration();
      const badToken = new GatewayClient({
        gatewayUrl: stack.gateway,
        operatorToken: 'wrong',
        account: key,
        publicUrl: 'http://127.0.0.1:9',
        executionProvider: 'cpu',
        models: '*',
        load: () => ({ inFlight: 0, queueDepth: 0, queueCapacity: 1, draining: false }),
        log: () => {},
      });
      await assert.rejects(badToken.start(5_000), RegistrationRefusedError);
      const listed = (await call(`${stack.gateway}/v1/backends`)).body.backends as { address: string }[];
      assert.ok(!listed.some((b) => b.address === key.address), 'the refused backend is not listed');
    });
  });

  it('rejects a receipt signed by a key other than the registered one, retries once, then answers 502 and charges nothing', async () => {
    const rogue = await attachBackend(privateKeyToAccount(generatePrivateKey()), privateKeyToAccount(generatePrivateKey()));
    const broken = await attachBrokenBackend(privateKeyToAccount(generatePrivateKey()));
    // A paid call: the authorization is reserved, the work fails, and the reservation is released.
    const requirements = await requirementsOf(paidUrl(), JSON.stringify({ inputs }));
    const paid = await paymentHeader(payer(), requirements);
    const before = await balanceOf(payer().address);
    const res = await postJson(paidUrl(), { inputs }, { 'payment-signature': paid.header });
    assert.equal(res.status, 502, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'backend_failed');
    assert.doesNotMatch(JSON.stringify(res.body), /boom|HTTP 500|signer|0x[0-9a-f]{40}/i, 'no backend text or internals in the error');
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
    // An authorization of this test's own, released by a call that failed on a backend answering 500
    // (the only one not cooling down), whatever the tests before did.
    await attachBrokenBackend(privateKeyToAccount(generatePrivateKey()));
    const requirements = await requirementsOf(paidUrl(), JSON.stringify({ inputs }));
    const paid = await paymentHeader(payer(), requirements);
    const failed = await postJson(paidUrl(), { inputs }, { 'payment-signature': paid.header });
    assert.equal(failed.status, 502, JSON.stringify(failed.body));
    const recordId = await paymentRecordId(authorizationNonceKey(stack.chain!.chainId, requirements.asset as Hex, payer().address, paid.nonce));
    assert.equal((await call(`${stack.gateway}/v1/payments/${recordId}`)).body.state, 'released');

    const honestKey = privateKeyToAccount(generatePrivateKey());
    const honest = await attachBackend(honestKey);
    const before = await balanceOf(payer().address);
    const res = await postJson(paidUrl(), { inputs }, { 'payment-signature': paid.header });
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
