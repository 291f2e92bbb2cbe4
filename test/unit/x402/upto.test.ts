import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import { encodePaymentSignatureHeader } from '@x402/core/http';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { PERMIT2_ADDRESS, toClientEvmSigner, uptoPermit2WitnessTypes, x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress } from '@x402/evm';
import { UptoEvmScheme } from '@x402/evm/upto/client';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import type { Address } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  PaymentRejectedError,
  decodePaymentHeader,
  exactEvmRequirements,
  permit2NonceKey,
  requirementsForPayment,
  settlementPayload,
  uptoEvmRequirements,
  verifyEvmPayment,
  type DecodedPayment,
} from '../../../core/x402';

// The x402 `upto` scheme at the edge: payloads from @x402/evm's official upto client (a Permit2
// maximum for the upto proxy, with the facilitator in the witness), verified offline as @x402/evm's
// upto facilitator does, each bent field refused with its code.

const payer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const facilitator = privateKeyToAccount(generatePrivateKey()).address;
const asset: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const payTo: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const price = { chainId: 31337, asset, payTo, amount: 5000n, maxTimeoutSeconds: 300, name: 'Proofgate USD', version: '1' };
const upto = uptoEvmRequirements({ ...price, facilitatorAddress: facilitator });
const exact = exactEvmRequirements(price);
const now = () => Math.floor(Date.now() / 1000);

async function officialUpto(req: PaymentRequirements = upto, account = payer): Promise<PaymentPayload> {
  const client = x402Client.fromConfig({
    schemes: [{ network: 'eip155:31337', client: new UptoEvmScheme(toClientEvmSigner(account)) }],
    spendControls: { allowedAssets: [{ network: 'eip155:31337', asset, maxAmountPerPayment: '1000000' }] },
  });
  return client.createPaymentPayload({ x402Version: 2, resource: { url: 'https://gw/v1/models/m/infer' }, accepts: [req] } as never);
}

const decoded = (p: PaymentPayload): DecodedPayment => decodePaymentHeader(encodePaymentSignatureHeader(p));

type P2 = {
  from: Address;
  permitted: { token: Address; amount: string };
  spender: Address;
  nonce: string;
  deadline: string;
  witness: { to: Address; facilitator: Address; validAfter: string };
};
const authOf = (p: PaymentPayload) => (p.payload as { permit2Authorization: P2 }).permit2Authorization;

// Re-signs a (possibly altered) upto authorization, as a client that bends the rules would.
async function resigned(base: PaymentPayload, change: (a: P2) => P2, signer = payer, chainId = 31337): Promise<PaymentPayload> {
  const a = change(structuredClone(authOf(base)));
  const signature = await signer.signTypedData({
    domain: { name: 'Permit2', chainId, verifyingContract: PERMIT2_ADDRESS },
    types: uptoPermit2WitnessTypes,
    primaryType: 'PermitWitnessTransferFrom',
    message: {
      permitted: { token: a.permitted.token, amount: BigInt(a.permitted.amount) },
      spender: a.spender,
      nonce: BigInt(a.nonce),
      deadline: BigInt(a.deadline),
      witness: { to: a.witness.to, facilitator: a.witness.facilitator, validAfter: BigInt(a.witness.validAfter) },
    },
  });
  return { ...base, payload: { signature, permit2Authorization: a } };
}

async function code(p: PaymentPayload, req = upto): Promise<string> {
  try {
    await verifyEvmPayment({ payment: decoded(p), requirements: req, now: now(), minValiditySeconds: 60 });
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof PaymentRejectedError, String(err));
    assert.equal(err.status, 402);
    return err.code;
  }
}

describe('x402 upto scheme at the edge', () => {
  it('offers the maximum as amount, with Permit2 and the facilitator that settles', () => {
    assert.deepEqual(upto, {
      scheme: 'upto',
      network: 'eip155:31337',
      amount: '5000',
      asset,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: 'Proofgate USD', version: '1', assetTransferMethod: 'permit2', facilitatorAddress: facilitator },
    });
  });

  it("verifies the official client's payload and keys its single use on Permit2's nonce, shared with exact", async () => {
    const payload = await officialUpto();
    const verified = await verifyEvmPayment({ payment: decoded(payload), requirements: upto, now: now() });
    assert.equal(verified.scheme, 'upto');
    assert.equal(verified.method, 'permit2');
    assert.equal(verified.payer, payer.address);
    assert.equal(verified.authorization.value, 5000n);
    assert.equal(verified.nonceKey, permit2NonceKey(31337, payer.address, BigInt(authOf(payload).nonce)));
  });

  describe('refuses each bent field with its code', () => {
    /** The official client's payload every case bends (read-only). */
    let base: PaymentPayload;
    before(async () => {
      base = await officialUpto();
    });
    const cases: [string, string, (base: PaymentPayload) => PaymentPayload | Promise<PaymentPayload>][] = [
      ['nothing bent (re-signed as is)', 'ok', (b) => resigned(b, (a) => a)],
      ['less than the maximum', 'insufficient_amount', (b) => resigned(b, (a) => ({ ...a, permitted: { ...a.permitted, amount: '4999' } }))],
      ['more than the maximum', 'amount_mismatch', (b) => resigned(b, (a) => ({ ...a, permitted: { ...a.permitted, amount: '5001' } }))],
      ['another token', 'asset_mismatch', (b) => resigned(b, (a) => ({ ...a, permitted: { ...a.permitted, token: stranger.address } }))],
      ['another recipient', 'recipient_mismatch', (b) => resigned(b, (a) => ({ ...a, witness: { ...a.witness, to: stranger.address } }))],
      [
        'another facilitator',
        'facilitator_mismatch',
        (b) => resigned(b, (a) => ({ ...a, witness: { ...a.witness, facilitator: stranger.address } })),
      ],
      ['the exact proxy as spender', 'invalid_payload', (b) => resigned(b, (a) => ({ ...a, spender: x402ExactPermit2ProxyAddress }))],
      ['a deadline too close', 'authorization_expired', (b) => resigned(b, (a) => ({ ...a, deadline: String(now() + 30) }))],
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
        (b) => ({ ...b, payload: { ...b.payload, permit2Authorization: { ...authOf(b), nonce: '7' } } }),
      ],
      ['another network accepted', 'network_mismatch', (b) => ({ ...b, accepted: { ...b.accepted, network: 'eip155:1' } })],
      ['another scheme accepted', 'unsupported_scheme', (b) => ({ ...b, accepted: { ...b.accepted, scheme: 'exact' } })],
    ];
    for (const [name, expected, bend] of cases) {
      it(`${name}: ${expected}`, async () => {
        assert.equal(await code(await bend(base)), expected);
      });
    }

    it('names the canonical upto proxy as spender', () => {
      assert.equal(authOf(base).spender, x402UptoPermit2ProxyAddress);
    });
  });

  it('matches a payment to the offer of its scheme, and refuses a scheme not offered', async () => {
    const offers = [exact, upto];
    assert.equal(requirementsForPayment(decoded(await officialUpto()), offers), upto);
    const exactClient = x402Client.fromConfig({
      schemes: [{ network: 'eip155:31337', client: new ExactEvmScheme(toClientEvmSigner(payer)) }],
      spendControls: { allowedAssets: [{ network: 'eip155:31337', asset, maxAmountPerPayment: '1000000' }] },
    });
    const exactPayment = decoded(await exactClient.createPaymentPayload({ x402Version: 2, accepts: [exact] } as never));
    assert.equal(requirementsForPayment(exactPayment, offers), exact);
    const uptoPayment = decoded(await officialUpto());
    assert.throws(
      () => requirementsForPayment(uptoPayment, [exact]),
      (err: unknown) => err instanceof PaymentRejectedError && err.code === 'unsupported_scheme',
    );
  });

  it('sends the facilitator the verified scheme payload under the server requirements, without client extensions', async () => {
    const payload = await officialUpto();
    const sent = settlementPayload(decoded({ ...payload, extensions: { eip2612GasSponsoring: { info: {} } } }), upto);
    assert.deepEqual(sent, { x402Version: 2, resource: payload.resource, accepted: upto, payload: payload.payload });
    // A legacy v1 payment settles as the same v2 payload.
    const v1 = decodePaymentHeader(
      Buffer.from(JSON.stringify({ x402Version: 1, scheme: 'upto', network: 'eip155:31337', payload: payload.payload })).toString('base64'),
    );
    assert.deepEqual(settlementPayload(v1, upto), { x402Version: 2, accepted: upto, payload: payload.payload });
  });
});
