import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import { HTTPFacilitatorClient } from '@x402/core/http';
import { toClientEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { createPublicClient, http, parseAbi, type Address } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { exactEvmRequirements, paymentRequired } from '../../../core/x402';
import { startLocalPayments } from '../../../facilitator/local-payments';

const balanceAbi = parseAbi(['function balanceOf(address) view returns (uint256)']);

describe('local payments stack (anvil + pgUSD + facilitator)', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'pg-payments-'));
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  it('settles a paid call, and after a restart from its state dir keeps the token, balances and settlements', async () => {
    const first = await startLocalPayments({ stateDir });
    const [, , payerAccount, payee] = first.anvil.accounts;
    const payer = privateKeyToAccount(payerAccount!.privateKey);
    const payTo: Address = payee!.address;
    const balance = (rpcUrl: string, who: Address) =>
      createPublicClient({ transport: http(rpcUrl) }).readContract({
        address: first.token.address,
        abi: balanceAbi,
        functionName: 'balanceOf',
        args: [who],
      });
    let settled: string;
    const requirements = exactEvmRequirements({
      chainId: first.anvil.chainId,
      asset: first.token.address,
      payTo,
      amount: 2_500n,
      maxTimeoutSeconds: 300,
      name: first.token.name,
      version: first.token.version,
    });
    const x402 = x402Client.fromConfig({
      schemes: [{ network: requirements.network, client: new ExactEvmScheme(toClientEvmSigner(payer)) }],
      spendControls: { allowedAssets: [{ network: requirements.network, asset: requirements.asset }] },
    });
    const payload = await x402.createPaymentPayload(paymentRequired({ url: 'http://gateway.local/paid' }, [requirements]));
    try {
      await first.token.mint(payer.address, 10_000n);
      const result = await new HTTPFacilitatorClient({ url: first.facilitator.url }).settle(payload, requirements);
      assert.equal(result.success, true, JSON.stringify(result));
      settled = result.transaction;
      assert.equal(await balance(first.anvil.rpcUrl, payer.address), 7_500n);
    } finally {
      await first.stop();
    }

    const second = await startLocalPayments({ stateDir });
    try {
      assert.equal(second.token.address, first.token.address, 'the token is found again, not redeployed');
      assert.equal(await balance(second.anvil.rpcUrl, payer.address), 7_500n);
      assert.equal(await balance(second.anvil.rpcUrl, payTo), 2_500n);
      const retry = await new HTTPFacilitatorClient({ url: second.facilitator.url }).settle(payload, requirements);
      assert.deepEqual({ success: retry.success, transaction: retry.transaction }, { success: true, transaction: settled });
      assert.equal(await balance(second.anvil.rpcUrl, payer.address), 7_500n);
    } finally {
      await second.stop();
    }
  });
});
