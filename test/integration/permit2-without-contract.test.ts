import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { paidFetch } from '../../core/sdk/paid-fetch';
import type { LocalStack } from '../../local-stack/launch';
import { launchTestStack } from '../support/test-stack';
import { balances } from '../support/x402-payer';

// A gateway configured for Permit2 on a chain that has no Permit2 contract (the local anvil chain:
// Permit2's bytecode cannot be had here): the official client pays with a Permit2 signature, the
// edge verifies it, then refuses it before any work because it could never settle.

let stack: LocalStack;
before(async () => {
  stack = await launchTestStack({ backends: 1, workerVars: { X402_ASSET_TRANSFER_METHOD: 'permit2' } });
});
after(() => stack.stop());

describe('Permit2 payments on a chain without Permit2', () => {
  it('are asked for with assetTransferMethod permit2 and refused with permit2_unavailable, nothing charged', async () => {
    const url = `${stack.gateway}/v1/models/paid-add/infer`;
    const body = JSON.stringify({
      inputs: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] } },
    });
    const unpaid = await fetch(url, { method: 'POST', body });
    assert.equal(unpaid.status, 402);
    assert.equal(
      ((await unpaid.json()) as { accepts: { extra: { assetTransferMethod?: string } }[] }).accepts[0]!.extra.assetTransferMethod,
      'permit2',
    );

    const payer = privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
    const before = await balances(stack)(payer.address);
    const pay = paidFetch(payer, { network: `eip155:${stack.chain!.chainId}`, asset: stack.chain!.token as Address });
    const res = await pay(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 402);
    assert.equal(((await res.json()) as { error: string }).error, 'permit2_unavailable');
    assert.equal(await balances(stack)(payer.address), before);
  });
});
