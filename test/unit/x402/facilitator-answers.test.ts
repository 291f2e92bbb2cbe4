import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { PaymentPayload } from '@x402/core/types';
import { exactEvmRequirements, settleWithFacilitator, verifyWithFacilitator } from '../../../core/x402';

// How the gateway reads a facilitator's answers, over real HTTP: a refusal (any 4xx, or success:false
// before anything was broadcast) lets the authorization go; anything that may have reached the chain
// (settlement_pending, 5xx, a timeout, a dropped connection, an answer it cannot read) stays open.

const tx = `0x${'ab'.repeat(32)}`;
const requirements = exactEvmRequirements({
  chainId: 31337,
  asset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
  payTo: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  amount: 1000n,
  maxTimeoutSeconds: 300,
  name: 'Proofgate USD',
  version: '1',
});
const payload = { x402Version: 2, accepted: requirements, payload: {} } as PaymentPayload;

let server: Server;
let url: string;
/** What the facilitator answers next: status and raw body, or null to never answer. */
let answer: { status: number; body: string } | null = null;
let received: unknown;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (answer) res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const settleWith = (status: number, body: unknown, amount = '1000') => {
  answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) };
  return settleWithFacilitator(url, payload, { ...requirements, amount }, 2000);
};

describe('settleWithFacilitator', () => {
  it('sends the official wire format', async () => {
    await settleWith(200, { success: true, transaction: tx, network: requirements.network });
    assert.deepEqual(received, { x402Version: 2, paymentPayload: payload, paymentRequirements: requirements });
  });

  it('reads a settlement', async () => {
    assert.deepEqual(await settleWith(200, { success: true, transaction: tx, network: 'eip155:31337' }), { outcome: 'settled', transaction: tx });
  });

  it('reads a zero charge settled without a transaction', async () => {
    assert.deepEqual(await settleWith(200, { success: true, transaction: '', network: 'eip155:31337' }, '0'), {
      outcome: 'settled',
      transaction: null,
    });
  });

  it('leaves open a success without a transaction for a charge above zero', async () => {
    assert.equal((await settleWith(200, { success: true, transaction: '', network: 'eip155:31337' })).outcome, 'unknown');
  });

  describe('reads any 4xx and success:false before a broadcast as a refusal, with its reason', () => {
    const cases: [number, unknown, string][] = [
      [200, { success: false, errorReason: 'insufficient_funds', transaction: '', network: 'eip155:31337' }, 'insufficient_funds'],
      [200, { success: false, errorReason: 'transaction_failed', transaction: tx, network: 'eip155:31337' }, 'transaction_failed'],
      [400, { error: 'invalid_request', message: 'expected {x402Version: 2, …}' }, 'invalid_request'],
      [402, { success: false, errorReason: 'invalid_exact_evm_payload_signature', transaction: '' }, 'invalid_exact_evm_payload_signature'],
      [404, 'not json', 'http_404'],
    ];
    for (const [status, body, reason] of cases) {
      it(`${status} ${reason}`, async () => {
        assert.deepEqual(await settleWith(status, body), { outcome: 'refused', reason });
      });
    }
  });

  describe('leaves open what may have reached the chain: settlement_pending, 5xx, unreadable answers, timeouts, dropped connections', () => {
    const open: [number, unknown][] = [
      [200, { success: false, errorReason: 'settlement_pending', transaction: tx, network: 'eip155:31337' }],
      [200, { success: false, errorReason: 'settlement_pending', transaction: '', network: 'eip155:31337' }],
      [500, { error: 'internal_error' }],
      [502, '<html>bad gateway</html>'],
      [200, 'not json'],
      [200, { transaction: tx }],
    ];
    for (const [status, body] of open) {
      it(`${status} ${JSON.stringify(body)}`, async () => {
        assert.equal((await settleWith(status, body)).outcome, 'unknown');
      });
    }

    it('no answer within the timeout', async () => {
      answer = null;
      const timedOut = await settleWithFacilitator(url, payload, requirements, 300);
      assert.equal(timedOut.outcome, 'unknown');
    });

    it('a dropped connection', async () => {
      const closed = createServer((req) => req.socket.destroy());
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
      try {
        const dropped = await settleWithFacilitator(`http://127.0.0.1:${(closed.address() as AddressInfo).port}`, payload, requirements, 2000);
        assert.equal(dropped.outcome, 'unknown');
      } finally {
        closed.close();
      }
    });
  });
});

describe('verifyWithFacilitator', () => {
  const verifyWith = (status: number, body: unknown) => {
    answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) };
    return verifyWithFacilitator(url, payload, requirements, 2000);
  };

  it('reads valid', async () => {
    assert.deepEqual(await verifyWith(200, { isValid: true, payer: '0x' }), { outcome: 'valid' });
  });

  it('reads invalid with its reason', async () => {
    assert.deepEqual(await verifyWith(200, { isValid: false, invalidReason: 'permit2_allowance_required' }), {
      outcome: 'invalid',
      reason: 'permit2_allowance_required',
    });
  });

  it('reads a 4xx as invalid with its reason', async () => {
    assert.deepEqual(await verifyWith(400, { error: 'invalid_request' }), { outcome: 'invalid', reason: 'invalid_request' });
  });

  it('reads a 5xx as unavailable', async () => {
    assert.equal((await verifyWith(500, { error: 'internal_error' })).outcome, 'unavailable');
  });

  it('reads an unreadable answer as unavailable', async () => {
    assert.equal((await verifyWith(200, 'garbage')).outcome, 'unavailable');
  });

  it('reads a refused connection as unavailable', async () => {
    const refused = await verifyWithFacilitator('http://127.0.0.1:1', payload, requirements, 2000);
    assert.equal(refused.outcome, 'unavailable');
  });
});
