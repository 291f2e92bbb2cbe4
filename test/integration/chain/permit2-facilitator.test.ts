import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { toClientEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { UptoEvmScheme } from '@x402/evm/upto/client';
import { parseAbi, type Address } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import { deployPermit2Stack } from '../../../chain/permit2';
import { deployToken, tokenDomain, type DeployedToken } from '../../../chain/token';
import { exactEvmRequirements, settleWithFacilitator, uptoEvmRequirements, verifyWithFacilitator } from '../../../core/x402';
import { startFacilitator, type RunningFacilitator } from '../../../facilitator/service';
import { approvePermit2 } from '../../../local-stack/launch';

// The project's facilitator (facilitator/service.ts) over HTTP, on anvil with Permit2 and the x402
// proxies: `upto` settles the charge it is given (0: no transaction), and settling the same Permit2
// authorization again (exact or upto) answers the transaction that settled it, never a second one.
// A transaction whose broadcast failed on the wire is reported as pending, not as a refusal.

const erc20 = parseAbi(['function balanceOf(address) view returns (uint256)']);

let anvil: AnvilInstance;
let token: DeployedToken;
let payer: PrivateKeyAccount;
let payTo: Address;
let reader: ChainClients;
let facilitator: RunningFacilitator;
let network: `eip155:${number}`;

const balanceOf = (a: Address) => reader.publicClient.readContract({ address: token.address, abi: erc20, functionName: 'balanceOf', args: [a] });
const price = () => ({ chainId: anvil.chainId, asset: token.address, payTo, maxTimeoutSeconds: 300, ...tokenDomain });

async function pay(req: PaymentRequirements): Promise<PaymentPayload> {
  const signer = toClientEvmSigner(payer);
  const client = x402Client.fromConfig({
    schemes: [{ network, client: req.scheme === 'upto' ? new UptoEvmScheme(signer) : new ExactEvmScheme(signer) }],
    spendControls: { allowedAssets: [{ network, asset: token.address }] },
  });
  return client.createPaymentPayload({ x402Version: 2, resource: { url: 'https://gw/v1/models/m/infer' }, accepts: [req] } as never);
}

before(async () => {
  anvil = await startAnvil();
  const [deployer, payerKey, payee, settler] = anvil.accounts;
  network = `eip155:${anvil.chainId}`;
  token = await deployToken(anvil.rpcUrl, deployer!.privateKey);
  await deployPermit2Stack(anvil.rpcUrl, deployer!.privateKey);
  payer = privateKeyToAccount(payerKey!.privateKey);
  payTo = payee!.address;
  await token.mint(payer.address, 10_000_000n);
  await approvePermit2(anvil.rpcUrl, payerKey!.privateKey, token.address);
  reader = await connect(anvil.rpcUrl, deployer!.privateKey);
  facilitator = await startFacilitator({ rpcUrl: anvil.rpcUrl, privateKey: settler!.privateKey });
});
after(async () => {
  await facilitator?.stop();
  await anvil?.stop();
});

describe("the project's facilitator with Permit2 on chain", () => {
  it('lists upto with the address it settles from', async () => {
    const supported = (await (await fetch(`${facilitator.url}/supported`)).json()) as {
      kinds: { x402Version: number; scheme: string; network: string; extra?: { facilitatorAddress?: string } }[];
    };
    const v2 = supported.kinds.filter((k) => k.x402Version === 2);
    assert.deepEqual(
      v2.map((k) => [k.scheme, k.network]),
      [
        ['exact', network],
        ['upto', network],
      ],
    );
    assert.equal(v2[1]!.extra?.facilitatorAddress, facilitator.address);
  });

  it('settles an upto payment for the charge it is given', async () => {
    const req = uptoEvmRequirements({ ...price(), amount: 5000n, facilitatorAddress: facilitator.address });
    const payload = await pay(req);
    assert.deepEqual(await verifyWithFacilitator(facilitator.url, payload, req), { outcome: 'valid' });
    const before = await balanceOf(payer.address);
    const settled = await settleWithFacilitator(facilitator.url, payload, { ...req, amount: '1234' });
    assert.equal(settled.outcome, 'settled', JSON.stringify(settled));
    assert.equal(await balanceOf(payer.address), before - 1234n);
  });

  it('settles an upto payment for a zero charge with no transaction at all', async () => {
    const req = uptoEvmRequirements({ ...price(), amount: 5000n, facilitatorAddress: facilitator.address });
    const zero = await pay(req);
    const before = await balanceOf(payer.address);
    const block = await reader.publicClient.getBlockNumber();
    assert.deepEqual(await settleWithFacilitator(facilitator.url, zero, { ...req, amount: '0' }), { outcome: 'settled', transaction: null });
    assert.equal(await reader.publicClient.getBlockNumber(), block, 'no transaction was sent');
    assert.equal(await balanceOf(payer.address), before);
  });

  const replayCases = [
    { scheme: 'exact', req: () => exactEvmRequirements({ ...price(), amount: 700n, assetTransferMethod: 'permit2' }), charged: 700n },
    {
      scheme: 'upto',
      req: () => ({ ...uptoEvmRequirements({ ...price(), amount: 900n, facilitatorAddress: facilitator.address }), amount: '650' }),
      charged: 650n,
    },
  ] as const;
  for (const { scheme, req: requirements, charged } of replayCases) {
    it(`answers a second settle of a Permit2 ${scheme} payment with the first transaction, and a forged copy with nothing`, async () => {
      const req = requirements();
      const payload = await pay(req.scheme === 'upto' ? { ...req, amount: '900' } : req);
      const before = await balanceOf(payer.address);
      const first = await settleWithFacilitator(facilitator.url, payload, req);
      assert.equal(first.outcome, 'settled', JSON.stringify(first));
      const again = await settleWithFacilitator(facilitator.url, payload, req);
      assert.deepEqual(again, first, req.scheme);
      assert.equal(await balanceOf(payer.address), before - charged);
      // Same nonce, someone else's signature: the chain shows the nonce used, but not by this payload.
      const forged = { ...payload, payload: { ...payload.payload, signature: `0x${'11'.repeat(65)}` } };
      assert.equal((await settleWithFacilitator(facilitator.url, forged, req)).outcome, 'refused', req.scheme);
    });
  }
});

describe('a settlement whose transaction was sent but whose answer was lost on the wire', () => {
  let rpcProxy: Server;
  let flaky: RunningFacilitator;
  let dropSends = false;
  const rpc = (method: string, params: unknown[] = []) =>
    fetch(anvil.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });

  before(async () => {
    // Between the facilitator and anvil: forwards everything, but while dropSends is set an
    // eth_sendRawTransaction reaches anvil and its answer never comes back.
    rpcProxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        const upstream = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const text = await upstream.text();
        if (dropSends && body.toString().includes('eth_sendRawTransaction')) {
          req.socket.destroy();
          return;
        }
        res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
      });
    });
    await new Promise<void>((r) => rpcProxy.listen(0, '127.0.0.1', () => r()));
    flaky = await startFacilitator({
      rpcUrl: `http://127.0.0.1:${(rpcProxy.address() as AddressInfo).port}`,
      privateKey: anvil.accounts[5]!.privateKey,
    });
  });
  after(async () => {
    await flaky.stop();
    rpcProxy.closeAllConnections();
    rpcProxy.close();
  });

  it('is reported pending (not refused), and a retry answers the transaction that landed', async () => {
    const req = exactEvmRequirements({ ...price(), amount: 321n });
    const payload = await pay(req);
    const before = await balanceOf(payer.address);
    // Not mined yet when the facilitator looks: the transaction waits in anvil's pool.
    await rpc('evm_setAutomine', [false]);
    dropSends = true;
    let first: Awaited<ReturnType<typeof settleWithFacilitator>>;
    try {
      first = await settleWithFacilitator(flaky.url, payload, req);
    } finally {
      dropSends = false;
      await rpc('evm_setAutomine', [true]);
    }
    assert.equal(first.outcome, 'unknown', JSON.stringify(first));
    await rpc('evm_mine');
    assert.equal(await balanceOf(payer.address), before - 321n, 'the transfer landed');
    const retry = await settleWithFacilitator(flaky.url, payload, req);
    assert.equal(retry.outcome, 'settled', JSON.stringify(retry));
    assert.equal(await balanceOf(payer.address), before - 321n, 'and only once');
  });
});
