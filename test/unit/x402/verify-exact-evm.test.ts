import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import { decodePaymentRequiredHeader, encodePaymentSignatureHeader } from '@x402/core/http';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { authorizationTypes, toClientEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { parseSignature, serializeSignature, toHex, type Address, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  decodePaymentHeader,
  exactEvmRequirements,
  paymentRequired,
  paymentRequiredHeaders,
  PaymentRejectedError,
  readPaymentHeader,
  verifyExactEvmPayment,
  type DecodedPayment,
} from '../../../core/x402';

const payer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const asset: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const payTo: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const requirements = exactEvmRequirements({
  chainId: 31337,
  asset,
  payTo,
  amount: 25_000n,
  maxTimeoutSeconds: 120,
  name: 'Proofgate USD',
  version: '1',
});
const resource = { url: 'https://gateway.example/v1/models/mnist/infer', description: 'mnist inference', mimeType: 'application/json' };
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A payload made by the official x402 client from our own 402 answer, sent through the header. */
async function officialPayment(account = payer): Promise<{ payload: PaymentPayload; header: string }> {
  const required = decodePaymentRequiredHeader(paymentRequiredHeaders(paymentRequired(resource, [requirements]))['PAYMENT-REQUIRED']!);
  // The official client pays only well-known assets unless told otherwise; pgUSD is opted in with a cap.
  const client = x402Client.fromConfig({
    schemes: [{ network: 'eip155:31337', client: new ExactEvmScheme(toClientEvmSigner(account)) }],
    spendControls: { allowedAssets: [{ network: 'eip155:31337', asset, maxAmountPerPayment: '1000000' }] },
  });
  const payload = await client.createPaymentPayload(required);
  return { payload, header: encodePaymentSignatureHeader(payload) };
}

type Authorization = { from: Address; to: Address; value: bigint; validAfter: bigint; validBefore: bigint; nonce: Hex };

/** A v2 payment signed by hand so each field can be set; `claimFrom` lets the payload lie about the payer. */
async function signedPayment(
  overrides: Partial<Authorization> = {},
  opts: { signer?: typeof payer; domainChainId?: number; accepted?: Partial<PaymentRequirements> } = {},
) {
  const now = BigInt(nowSeconds());
  const authorization: Authorization = {
    from: payer.address,
    to: payTo,
    value: 25_000n,
    validAfter: 0n,
    validBefore: now + 120n,
    nonce: toHex(crypto.getRandomValues(new Uint8Array(32))),
    ...overrides,
  };
  const signature = await (opts.signer ?? payer).signTypedData({
    domain: { name: 'Proofgate USD', version: '1', chainId: opts.domainChainId ?? 31337, verifyingContract: asset },
    types: authorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: authorization,
  });
  return wire(authorization, signature, opts.accepted);
}

function wire(a: Authorization, signature: Hex, accepted: Partial<PaymentRequirements> = {}): DecodedPayment {
  const payload: PaymentPayload = {
    x402Version: 2,
    resource,
    accepted: { ...requirements, ...accepted },
    payload: {
      signature,
      authorization: {
        from: a.from,
        to: a.to,
        value: a.value.toString(),
        validAfter: a.validAfter.toString(),
        validBefore: a.validBefore.toString(),
        nonce: a.nonce,
      },
    },
  };
  return decodePaymentHeader(encodePaymentSignatureHeader(payload));
}

async function rejection(
  payment: DecodedPayment | Promise<DecodedPayment>,
  req: PaymentRequirements = requirements,
  now = nowSeconds(),
): Promise<string> {
  try {
    await verifyExactEvmPayment({ payment: await payment, requirements: req, now });
  } catch (error) {
    assert.ok(error instanceof PaymentRejectedError, `expected a PaymentRejectedError, got ${String(error)}`);
    assert.equal(error.status, 402);
    return error.code;
  }
  return 'accepted';
}

describe('x402 PaymentRequired', () => {
  it('builds a schema-valid v2 402 answer the official client can pay', async () => {
    const body = paymentRequired(resource, [requirements], 'insufficient_amount');
    assert.deepEqual(body.accepts[0], {
      scheme: 'exact',
      network: 'eip155:31337',
      amount: '25000',
      asset,
      payTo,
      maxTimeoutSeconds: 120,
      extra: { name: 'Proofgate USD', version: '1' },
    });
    assert.equal(body.error, 'insufficient_amount');
    const headers = paymentRequiredHeaders(body);
    assert.equal(headers['Cache-Control'], 'no-store');
    assert.deepEqual(decodePaymentRequiredHeader(headers['PAYMENT-REQUIRED']!), body);
    const { payload } = await officialPayment();
    assert.deepEqual(payload.accepted, requirements);
  });

  it('refuses to build a PaymentRequired with no accepted requirements', () => {
    assert.throws(() => paymentRequired(resource, []), { name: 'ZodError' });
  });
});

describe('verifyExactEvmPayment', () => {
  it('accepts a payment made by the official @x402/evm client, read from PAYMENT-SIGNATURE', async () => {
    const { header } = await officialPayment();
    const payment = readPaymentHeader(new Headers({ 'payment-signature': header }));
    assert.ok(payment);
    const verified = await verifyExactEvmPayment({ payment, requirements, now: nowSeconds() });
    assert.equal(verified.payer, payer.address);
    assert.equal(verified.authorization.value, 25_000n);
    assert.equal(verified.authorization.to, payTo);
    assert.equal(verified.nonceKey, `eip155:31337/${asset.toLowerCase()}/${payer.address.toLowerCase()}/${verified.authorization.nonce}`);
    assert.deepEqual(verified.paymentPayload, payment.original);
  });

  it('accepts the legacy v1 X-PAYMENT shape', async () => {
    const v2 = await signedPayment();
    const v1 = { x402Version: 1, scheme: 'exact', network: 'eip155:31337', payload: v2.payload };
    const payment = readPaymentHeader(new Headers({ 'X-PAYMENT': encodePaymentSignatureHeader(v1 as never) }));
    assert.equal(payment?.x402Version, 1);
    assert.equal((await verifyExactEvmPayment({ payment: payment!, requirements, now: nowSeconds() })).payer, payer.address);
  });

  it('answers undefined when no payment header is present', () => {
    assert.equal(readPaymentHeader(new Headers({ accept: 'application/json' })), undefined);
  });

  describe('rejects undecodable or malformed headers with invalid_payload', () => {
    const b64 = (value: unknown) => btoa(JSON.stringify(value));
    /** The official client's payload the malformed headers are made from (read-only). */
    let good: PaymentPayload;
    before(async () => {
      good = (await officialPayment()).payload;
    });
    const headers: [string, () => string][] = [
      ['not base64', () => '%%%not-base64%%%'],
      ['base64 of something not JSON', () => btoa('not json')],
      ['an unknown x402 version', () => b64({ x402Version: 3, accepted: good.accepted, payload: good.payload })],
      ['no accepted requirements', () => b64({ x402Version: 2, payload: good.payload })],
      ['20,000 bytes', () => 'A'.repeat(20_000)],
    ];
    for (const [name, header] of headers) {
      it(`refuses ${name} when decoding`, () => {
        assert.throws(
          () => decodePaymentHeader(header()),
          (e: unknown) => (e as PaymentRejectedError).code === 'invalid_payload',
        );
      });
    }

    it('refuses a short nonce', async () => {
      const shortNonce = { ...good, payload: { ...good.payload, authorization: { ...(good.payload.authorization as object), nonce: '0x1234' } } };
      assert.equal(await rejection(decodePaymentHeader(b64(shortNonce))), 'invalid_payload');
    });

    it('refuses a payload without a signature', async () => {
      const noSignature = { ...good, payload: { authorization: good.payload.authorization } };
      assert.equal(await rejection(decodePaymentHeader(b64(noSignature))), 'invalid_payload');
    });
  });

  describe('rejects another scheme or a Permit2 payload with unsupported_scheme', () => {
    it('another scheme', async () => {
      assert.equal(await rejection(signedPayment({}, { accepted: { scheme: 'upto' } })), 'unsupported_scheme');
    });

    it('a Permit2 payload where EIP-3009 is asked', async () => {
      const permit2 = decodePaymentHeader(
        encodePaymentSignatureHeader({
          x402Version: 2,
          accepted: requirements,
          payload: { signature: '0x00', permit2Authorization: { from: payer.address } },
        }),
      );
      assert.equal(await rejection(permit2), 'unsupported_scheme');
    });
  });

  describe('rejects a payment for another network, asset or recipient', () => {
    const cases: [string, () => [Promise<DecodedPayment>, PaymentRequirements?], string][] = [
      ['another network accepted', () => [signedPayment({}, { accepted: { network: 'eip155:8453' } })], 'network_mismatch'],
      ['another network asked', () => [signedPayment(), { ...requirements, network: 'eip155:1' }], 'network_mismatch'],
      ['another asset accepted', () => [signedPayment({}, { accepted: { asset: stranger.address } })], 'asset_mismatch'],
      ['another asset asked', () => [signedPayment(), { ...requirements, asset: stranger.address }], 'asset_mismatch'],
      ['another recipient accepted', () => [signedPayment({}, { accepted: { payTo: stranger.address } })], 'recipient_mismatch'],
      ['another recipient signed', () => [signedPayment({ to: stranger.address })], 'recipient_mismatch'],
    ];
    for (const [name, payment, code] of cases) {
      it(`${name}: ${code}`, async () => {
        const [p, req] = payment();
        assert.equal(await rejection(p, req), code);
      });
    }
  });

  describe('rejects less than the price, and more than the exact price', () => {
    it('less than the price: insufficient_amount', async () => {
      assert.equal(await rejection(signedPayment({ value: 24_999n })), 'insufficient_amount');
    });

    it('more than the exact price: amount_mismatch', async () => {
      assert.equal(await rejection(signedPayment({ value: 25_001n })), 'amount_mismatch');
    });

    it('a price above the payment: insufficient_amount', async () => {
      assert.equal(await rejection(signedPayment(), { ...requirements, amount: '30000' }), 'insufficient_amount');
    });
  });

  describe('enforces validAfter <= now < validBefore (minus the settlement margin)', () => {
    const cases: [string, (now: number) => Partial<Authorization>, string][] = [
      ['validAfter to come', (now) => ({ validAfter: BigInt(now + 30) }), 'authorization_not_yet_valid'],
      ['validBefore past', (now) => ({ validBefore: BigInt(now - 1) }), 'authorization_expired'],
      ['validBefore within the settlement margin', (now) => ({ validBefore: BigInt(now + 6) }), 'authorization_expired'],
      ['validBefore just past the margin', (now) => ({ validBefore: BigInt(now + 7) }), 'accepted'],
      ['validAfter now', (now) => ({ validAfter: BigInt(now) }), 'accepted'],
    ];
    for (const [name, window, expected] of cases) {
      it(`${name}: ${expected}`, async () => {
        const now = nowSeconds();
        assert.equal(await rejection(signedPayment(window(now)), requirements, now), expected);
      });
    }

    it('the same payment expires as time passes', async () => {
      const now = nowSeconds();
      const late = await signedPayment({ validBefore: BigInt(now + 100) });
      assert.equal(await rejection(late, requirements, now + 100), 'authorization_expired');
    });
  });

  describe('rejects signatures that are not the payer’s', () => {
    it("a stranger's signature", async () => {
      assert.equal(await rejection(signedPayment({}, { signer: stranger })), 'invalid_signature');
    });

    it("the payer's signature under another chain's domain", async () => {
      assert.equal(await rejection(signedPayment({}, { domainChainId: 1 })), 'invalid_signature');
    });

    /** A good payment's authorization and signature, to be sent bent. */
    async function signedAuthorization(): Promise<{ original: Authorization; signature: Hex }> {
      const good = await signedPayment();
      const auth = good.payload.authorization as Record<string, string>;
      const original: Authorization = {
        from: payer.address,
        to: payTo,
        value: 25_000n,
        validAfter: 0n,
        validBefore: BigInt(auth.validBefore!),
        nonce: auth.nonce as Hex,
      };
      return { original, signature: good.payload.signature as Hex };
    }

    it('a signature does not carry over to another nonce', async () => {
      const { original, signature } = await signedAuthorization();
      const a = { ...original, nonce: toHex(crypto.getRandomValues(new Uint8Array(32))) };
      assert.equal(await rejection(wire(a, signature)), 'invalid_signature');
    });

    it('the same authorization and signature, sent as is, is accepted', async () => {
      const { original, signature } = await signedAuthorization();
      assert.equal(await rejection(wire(original, signature)), 'accepted');
    });

    const bentSignatures: [string, (signature: Hex) => Hex][] = [
      [
        'the high-s twin',
        (signature) => {
          const { r, s, yParity } = parseSignature(signature);
          const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
          return serializeSignature({ r, s: toHex(n - BigInt(s), { size: 32 }), yParity: yParity === 0 ? 1 : 0 });
        },
      ],
      ['v written as the parity', (signature) => `${signature.slice(0, 130)}0${parseSignature(signature).yParity}` as Hex],
      ['a byte appended', (signature) => `${signature}00` as Hex],
      ['all zeros', () => `0x${'00'.repeat(65)}` as Hex],
    ];
    for (const [name, bend] of bentSignatures) {
      it(`${name}`, async () => {
        const { original, signature } = await signedAuthorization();
        assert.equal(await rejection(wire(original, bend(signature))), 'invalid_signature');
      });
    }
  });
});
