import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodePaymentResponseHeader } from '@x402/core/http';
import { x402ExactPermit2ProxyAddress } from '@x402/evm';
import { createPublicClient, getAddress, http, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { LocalStack } from '../../local-stack/launch';
import { paymentState, stateDirOf } from '../support/stored-state';
import { PAID_PRICE, launchTestStack } from '../support/test-stack';
import { balances, fundedPayer, officialClient } from '../support/x402-payer';
import { pollUntil } from '../support/poll';

// A gateway that takes `exact` payments over Permit2 (X402_ASSET_TRANSFER_METHOD=permit2, as for a
// token without EIP-3009), on the local chain where Permit2 and x402's exact Permit2 proxy sit at
// their canonical addresses: the official client, unmodified, pays, and the transfer goes through
// the proxy. A payer who has not approved Permit2 is refused before any work, storing nothing.

let stack: LocalStack;
const price = BigInt(PAID_PRICE);
const inputs = { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } };
const body = JSON.stringify({ inputs });
const json = { method: 'POST', headers: { 'content-type': 'application/json' }, body } as const;

before(async () => {
  stack = await launchTestStack({ backends: 1, workerVars: { X402_ASSET_TRANSFER_METHOD: 'permit2' } });
});
after(() => stack.stop());

describe('x402 exact over Permit2 on the local chain', () => {
  it('asks for Permit2 and is paid by the official client through the exact proxy, moving exactly the price', async () => {
    const url = `${stack.gateway}/v1/models/paid-add/infer`;
    const unpaid = await fetch(url, { method: 'POST', body });
    assert.equal(unpaid.status, 402);
    const offered = ((await unpaid.json()) as { accepts: { scheme: string; extra: Record<string, string> }[] }).accepts;
    assert.equal(offered[0]!.scheme, 'exact');
    assert.equal(offered[0]!.extra['assetTransferMethod'], 'permit2');

    const payer = privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
    const before = [await balances(stack)(payer.address), await balances(stack)(stack.chain!.payTo)];
    const res = await officialClient(stack, payer)(url, json);
    assert.equal(res.status, 200, res.status === 200 ? '' : await res.clone().text());
    const settlement = decodePaymentResponseHeader(res.headers.get('payment-response')!);
    const reply = (await res.json()) as { payment: Record<string, unknown>; outputs: { sum: { data: number[] } } };
    assert.deepEqual(reply.outputs.sum.data, [2, 3, 4, 5]);
    assert.deepEqual(reply.payment, {
      id: reply.payment['id'],
      scheme: 'exact',
      state: 'settled',
      maxAmount: PAID_PRICE,
      charged: PAID_PRICE,
      transaction: settlement.transaction,
    });
    const tx = await createPublicClient({ transport: http(stack.chain!.rpc) }).getTransaction({ hash: settlement.transaction as Hex });
    assert.equal(getAddress(tx.to!), x402ExactPermit2ProxyAddress);
    assert.equal(await balances(stack)(payer.address), before[0]! - price);
    assert.equal(await balances(stack)(stack.chain!.payTo), before[1]! + price);
  });

  it('settles async Permit2 payments after answering', async () => {
    const payer = await fundedPayer(stack, price, { approvePermit2: true });
    const res = await officialClient(stack, payer)(`${stack.gateway}/v1/models/paid-add-async/infer`, json);
    assert.equal(res.status, 200);
    const { payment } = (await res.json()) as { payment: { id: string; state: string } };
    assert.equal(payment.state, 'pending');
    await pollUntil(
      'the async settlement to move the payer’s funds',
      () => balances(stack)(payer.address),
      (b) => b === 0n,
      { timeoutMs: 60_000 },
    );
  });

  it('refuses a payer who has not approved Permit2 before any work (permit2_allowance_required), storing nothing', async () => {
    const payer = await fundedPayer(stack, price * 2n);
    const stored = paymentState(stateDirOf(stack), [payer.address]);
    const res = await officialClient(stack, payer)(`${stack.gateway}/v1/models/paid-add/infer`, json);
    assert.equal(res.status, 402);
    const answer = (await res.json()) as { error: string; message: string };
    assert.equal(answer.error, 'permit2_allowance_required');
    assert.match(answer.message, /approve Permit2/);
    assert.deepEqual(paymentState(stateDirOf(stack), [payer.address]), stored);
    assert.equal(await balances(stack)(payer.address), price * 2n);
  });
});
