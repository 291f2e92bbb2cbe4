import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { PERMIT2_ADDRESS, permit2WitnessTypes, toClientEvmSigner, x402ExactPermit2ProxyAddress } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import type { Address } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { decodePaymentHeader, permit2NonceKey, verifyExactEvmPayment, type DecodedPayment } from '../../../core/x402';
import { encodePaymentSignatureHeader } from '@x402/core/http';

// The Permit2 path of the `exact` scheme, verified at the edge exactly as @x402/evm's facilitator
// does, with payloads made by the official client and real signatures. (The local chain has no
// Permit2 contract, so settlement of this path is not exercised locally.)

const payer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const USDC = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913' as Address;
const requirements: PaymentRequirements = {
  scheme: 'exact',
  network: 'eip155:8453',
  amount: '1000',
  asset: USDC,
  payTo: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
  maxTimeoutSeconds: 300,
  extra: { name: 'USD Coin', version: '2', assetTransferMethod: 'permit2' },
};
const now = () => Math.floor(Date.now() / 1000);

async function officialPermit2(req = requirements, account = payer): Promise<PaymentPayload> {
  const client = x402Client.fromConfig({
    schemes: [{ network: 'eip155:8453', client: new ExactEvmScheme(toClientEvmSigner(account)) }],
    spendControls: { allowedAssets: [{ network: 'eip155:8453', asset: USDC }] },
  });
  return client.createPaymentPayload({
    x402Version: 2,
    resource: { url: 'https://gw/v1/models/m/infer', description: '', mimeType: '' },
    accepts: [req],
  } as never);
}

const decoded = (p: PaymentPayload): DecodedPayment => decodePaymentHeader(encodePaymentSignatureHeader(p));

type P2 = {
  from: Address;
  permitted: { token: Address; amount: string };
  spender: Address;
  nonce: string;
  deadline: string;
  witness: { to: Address; validAfter: string };
};

// Re-signs a (possibly altered) Permit2 authorization, as a client that bends the rules would.
async function resigned(base: PaymentPayload, change: (a: P2) => P2, signer = payer, chainId = 8453): Promise<PaymentPayload> {
  const a = change(structuredClone((base.payload as { permit2Authorization: P2 }).permit2Authorization));
  const signature = await signer.signTypedData({
    domain: { name: 'Permit2', chainId, verifyingContract: PERMIT2_ADDRESS },
    types: permit2WitnessTypes,
    primaryType: 'PermitWitnessTransferFrom',
    message: {
      permitted: { token: a.permitted.token, amount: BigInt(a.permitted.amount) },
      spender: a.spender,
      nonce: BigInt(a.nonce),
      deadline: BigInt(a.deadline),
      witness: { to: a.witness.to, validAfter: BigInt(a.witness.validAfter) },
    },
  });
  return { ...base, payload: { signature, permit2Authorization: a } };
}

async function code(p: PaymentPayload, req = requirements): Promise<string> {
  try {
    await verifyExactEvmPayment({ payment: decoded(p), requirements: req, now: now() });
    return 'ok';
  } catch (err) {
    return (err as { code: string }).code;
  }
}

describe('x402 exact scheme, Permit2 path', () => {
  it("verifies a payload from the official client and keys its single use on Permit2's nonce", async () => {
    const payload = await officialPermit2();
    const verified = await verifyExactEvmPayment({ payment: decoded(payload), requirements, now: now() });
    assert.equal(verified.method, 'permit2');
    assert.equal(verified.payer, payer.address);
    assert.equal(verified.authorization.value, 1000n);
    const nonce = BigInt((payload.payload as { permit2Authorization: P2 }).permit2Authorization.nonce);
    assert.equal(verified.nonceKey, permit2NonceKey(8453, payer.address, nonce));
  });

  describe('refuses each bent field with its code', () => {
    /** The official client's payload every case bends (read-only). */
    let base: PaymentPayload;
    before(async () => {
      base = await officialPermit2();
    });
    const cases: [string, string, (base: PaymentPayload) => Promise<PaymentPayload> | PaymentPayload][] = [
      ['nothing bent (re-signed as is)', 'ok', (b) => resigned(b, (a) => a)],
      ['less than the price', 'insufficient_amount', (b) => resigned(b, (a) => ({ ...a, permitted: { ...a.permitted, amount: '999' } }))],
      ['more than the price', 'amount_mismatch', (b) => resigned(b, (a) => ({ ...a, permitted: { ...a.permitted, amount: '1001' } }))],
      ['another token', 'asset_mismatch', (b) => resigned(b, (a) => ({ ...a, permitted: { ...a.permitted, token: stranger.address } }))],
      ['another recipient', 'recipient_mismatch', (b) => resigned(b, (a) => ({ ...a, witness: { ...a.witness, to: stranger.address } }))],
      ['another spender', 'invalid_payload', (b) => resigned(b, (a) => ({ ...a, spender: stranger.address }))],
      ['a past deadline', 'authorization_expired', (b) => resigned(b, (a) => ({ ...a, deadline: String(now() - 1) }))],
      [
        'a validAfter to come',
        'authorization_not_yet_valid',
        (b) => resigned(b, (a) => ({ ...a, witness: { ...a.witness, validAfter: String(now() + 3600) } })),
      ],
      ["a stranger's signature", 'invalid_signature', (b) => resigned(b, (a) => a, stranger)],
      ['a signature by the payer over another chain', 'invalid_signature', (b) => resigned(b, (a) => a, payer, 1)],
      [
        'a nonce changed after signing',
        'invalid_signature',
        (b) => ({
          ...b,
          payload: { ...b.payload, permit2Authorization: { ...(b.payload as { permit2Authorization: P2 }).permit2Authorization, nonce: '7' } },
        }),
      ],
    ];
    for (const [name, expected, bend] of cases) {
      it(`${name}: ${expected}`, async () => {
        assert.equal(await code(await bend(base)), expected);
      });
    }

    it('names the canonical exact proxy', () => {
      assert.equal(x402ExactPermit2ProxyAddress.length, 42);
    });
  });

  it('accepts only the transfer method the requirements ask for', async () => {
    const eip3009Requirements = { ...requirements, extra: { name: 'USD Coin', version: '2' } };
    assert.equal(await code(await officialPermit2(), eip3009Requirements), 'unsupported_scheme');
    const eip3009Payload = await officialPermit2(eip3009Requirements);
    assert.equal(await code(eip3009Payload, eip3009Requirements), 'ok');
    assert.equal(await code(eip3009Payload, requirements), 'unsupported_scheme');
  });
});
