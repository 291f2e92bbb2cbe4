import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Hex } from 'viem';
import { RUN_TERMS_HEADERS, readRunTerms, runTermsHeaders } from '../../../core/backend-protocol';
import { ProofgateError } from '../../../core/errors';
import { ZERO_ADDRESS, ZERO_BYTES32, receiptCharge, type RunTerms } from '../../../core/receipts';
import { runShareMs } from '../../../gpu-backend/run-scheduler';

// The metered charge end to end on its smallest parts: the pricing formula every party computes,
// how a batched run's time is split between its callers, and the run terms the gateway sends the
// backend (authenticated with the backend's key and bound to one request).

describe('the charge formula', () => {
  const metered = { priceBase: '500', pricePerMs: '100', priceCap: '100000' };

  // base + rate × whole ms, capped; a fixed price whatever the time; nothing for free.
  const big = (2n ** 255n).toString();
  const cases: [string, Parameters<typeof receiptCharge>[0], number, string][] = [
    ['the base alone for 0 ms', metered, 0, '500'],
    ['base + rate for 1 ms', metered, 1, '600'],
    ['the cap when base + rate × ms reaches it', metered, 995, '100000'],
    ['never above the cap', metered, 996, '100000'],
    ['the cap for the longest run', metered, Number.MAX_SAFE_INTEGER, '100000'],
    ['a fixed price whatever the time', { priceBase: '2500', pricePerMs: '0', priceCap: '2500' }, 12345, '2500'],
    ['nothing for free', { priceBase: '0', pricePerMs: '0', priceCap: '0' }, 12345, '0'],
    // uint256 amounts, exact in integers.
    ['uint256 amounts exactly', { priceBase: '1', pricePerMs: big, priceCap: (2n ** 256n - 1n).toString() }, 1, (2n ** 255n + 1n).toString()],
  ];
  for (const [name, terms, runMs, charge] of cases) {
    it(`charges ${name}`, () => {
      assert.equal(receiptCharge(terms, runMs), charge);
    });
  }

  for (const runMs of [1.5, -1]) {
    it(`refuses a run time of ${runMs} ms`, () => {
      assert.throws(() => receiptCharge(metered, runMs), /runMs must be a non-negative integer/);
    });
  }
});

describe('a batched run split between its callers', () => {
  it('gives a call that ran alone the run time rounded up to whole ms', () => {
    assert.equal(runShareMs(1, 1, 1), 1);
    assert.equal(runShareMs(1000, 1, 1), 1);
    assert.equal(runShareMs(1001, 1, 1), 2);
    assert.equal(runShareMs(0, 1, 1), 0);
    assert.equal(runShareMs(5000, 4, 4), 5, 'a call of 4 rows alone');
  });

  it('splits a batch by rows, each rounded up, so the callers together pay the run plus at most 1 ms each', () => {
    const runMicros = 12_345;
    const rows = [1, 3, 2, 2];
    const total = rows.reduce((a, b) => a + b, 0);
    const shares = rows.map((r) => runShareMs(runMicros, r, total));
    assert.deepEqual(shares, [2, 5, 4, 4]);
    const sum = shares.reduce((a, b) => a + b, 0);
    assert.ok(sum * 1000 >= runMicros && sum * 1000 < runMicros + rows.length * 1000, `${sum} ms for ${runMicros} µs`);
    // Eight one-row callers of one 8 ms run are billed 1 ms each, not 8 ms each.
    assert.deepEqual(
      Array.from({ length: 8 }, () => runShareMs(8000, 1, 8)),
      new Array(8).fill(1),
    );
  });
});

describe('run terms', () => {
  const authKey: Hex = `0x${'a5'.repeat(32)}`;
  const otherKey: Hex = `0x${'5a'.repeat(32)}`;
  const requestId: Hex = `0x${'01'.repeat(32)}`;
  const terms: RunTerms = {
    policyId: `0x${'0f'.repeat(32)}`,
    priceBase: '500',
    pricePerMs: '100',
    priceCap: '100000',
    paymentScheme: 'upto',
    paymentNetwork: 'eip155:31337',
    paymentAsset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    payer: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
    paymentNonce: `0x${'2c'.repeat(32)}`,
  };
  const read = (headers: Record<string, string>, id = requestId, key = authKey) =>
    readRunTerms(key, id, headers[RUN_TERMS_HEADERS.terms], headers[RUN_TERMS_HEADERS.signature]);
  const code = async (p: Promise<unknown>) => {
    try {
      await p;
      return 'ok';
    } catch (err) {
      assert.ok(err instanceof ProofgateError, String(err));
      return `${err.status} ${err.code}`;
    }
  };

  it('reach the backend as the gateway stated them, with the key as hex or imported', async () => {
    assert.deepEqual(await read(await runTermsHeaders(authKey, requestId, terms)), terms);
    const imported = await crypto.subtle.importKey('raw', Buffer.from(authKey.slice(2), 'hex'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    assert.deepEqual(await read(await runTermsHeaders(imported, requestId, terms)), terms);
    const free = {
      ...terms,
      paymentScheme: '' as const,
      paymentNetwork: '',
      paymentAsset: ZERO_ADDRESS,
      payer: ZERO_ADDRESS,
      paymentNonce: ZERO_BYTES32,
    };
    assert.deepEqual(await read(await runTermsHeaders(authKey, requestId, free)), free);
  });

  it('are none when the request states none (the backend then signs a version 1 receipt)', async () => {
    assert.equal(await read({}), null);
  });

  it('are refused when moved to another request, signed with another key, altered, or half there', async () => {
    const headers = await runTermsHeaders(authKey, requestId, terms);
    assert.equal(await code(read(headers, `0x${'02'.repeat(32)}`)), '401 unauthorized');
    assert.equal(await code(read(headers, requestId, otherKey)), '401 unauthorized');
    const cheaper = await runTermsHeaders(authKey, requestId, { ...terms, pricePerMs: '1' });
    assert.equal(
      await code(
        read({ [RUN_TERMS_HEADERS.terms]: cheaper[RUN_TERMS_HEADERS.terms]!, [RUN_TERMS_HEADERS.signature]: headers[RUN_TERMS_HEADERS.signature]! }),
      ),
      '401 unauthorized',
    );
    assert.equal(await code(read({ [RUN_TERMS_HEADERS.terms]: headers[RUN_TERMS_HEADERS.terms]! })), '401 unauthorized');
    assert.equal(await code(read({ [RUN_TERMS_HEADERS.signature]: headers[RUN_TERMS_HEADERS.signature]! })), '401 unauthorized');
  });

  describe('are refused as malformed when authentic but not terms (400)', () => {
    const bad: [string, Record<string, unknown>][] = [
      ['a base above the cap', { ...terms, priceBase: '100001' }],
      ['an unknown payment scheme', { ...terms, paymentScheme: 'batch' }],
      ['an extra field', { ...terms, extra: 1 }],
      ['no terms at all', { policyId: 'x' }],
    ];
    for (const [name, value] of bad) {
      it(name, async () => {
        const headers = await runTermsHeaders(authKey, requestId, value as unknown as RunTerms);
        assert.equal(await code(read(headers)), '400 invalid_request');
      });
    }
  });
});
