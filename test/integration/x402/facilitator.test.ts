import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import { HTTPFacilitatorClient } from '@x402/core/http';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { toClientEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { parseAbi, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import { deployToken, type DeployedToken } from '../../../chain/token';
import { decodePaymentHeader, exactEvmRequirements, paymentRequired, verifyExactEvmPayment } from '../../../core/x402';
import { encodePaymentSignatureHeader } from '@x402/core/http';
import { repoRoot } from '../../../chain/repo-paths';
import { startFacilitator, type RunningFacilitator } from '../../../facilitator/service';
import { waitForExit } from '../../support/poll';

const balanceAbi = parseAbi(['function balanceOf(address) view returns (uint256)']);
const resource = { url: 'http://gateway.local/v1/models/demo/infer' };

/**
 * The facilitator's verify answer, whether the client returned it (200) or threw it as a VerifyError
 * (a refusal with another status). Any other error (the facilitator down, a crash) fails the test.
 */
async function verifyAnswer(
  client: HTTPFacilitatorClient,
  payload: PaymentPayload,
  req: PaymentRequirements,
): Promise<{ isValid: boolean; invalidReason?: string }> {
  try {
    return await client.verify(payload, req);
  } catch (e) {
    if (e instanceof Error && e.name === 'VerifyError') return { isValid: false, invalidReason: (e as { invalidReason?: string }).invalidReason };
    throw e;
  }
}

/** The facilitator's settle answer, whether returned (200) or thrown as a SettleError; any other error fails the test. */
async function settleAnswer(
  client: HTTPFacilitatorClient,
  payload: PaymentPayload,
  req: PaymentRequirements,
): Promise<{ success: boolean; errorReason?: string; transaction?: string }> {
  try {
    return await client.settle(payload, req);
  } catch (e) {
    if (e instanceof Error && e.name === 'SettleError') return { success: false, errorReason: (e as { errorReason?: string }).errorReason };
    throw e;
  }
}

describe('local x402 facilitator', () => {
  let anvil: AnvilInstance;
  let token: DeployedToken;
  let facilitator: RunningFacilitator;
  let client: HTTPFacilitatorClient;
  let reader: ChainClients;
  let requirements: PaymentRequirements;
  let payer: Address;
  let payTo: Address;
  let payerKey: Hex;
  let facilitatorKey: Hex;

  before(async () => {
    anvil = await startAnvil();
    const [deployer, payerAccount, payee, settler] = anvil.accounts;
    token = await deployToken(anvil.rpcUrl, deployer!.privateKey);
    payer = payerAccount!.address;
    payerKey = payerAccount!.privateKey;
    payTo = payee!.address;
    facilitatorKey = settler!.privateKey;
    await token.mint(payer, 1_000_000n);
    reader = await connect(anvil.rpcUrl, deployer!.privateKey);
    requirements = exactEvmRequirements({
      chainId: anvil.chainId,
      asset: token.address,
      payTo,
      amount: 10_000n,
      maxTimeoutSeconds: 300,
      name: token.name,
      version: token.version,
    });
    facilitator = await startFacilitator({ rpcUrl: anvil.rpcUrl, privateKey: facilitatorKey });
    client = new HTTPFacilitatorClient({ url: facilitator.url });
  });
  after(async () => {
    await facilitator?.stop();
    await anvil?.stop();
  });

  const balance = (who: Address) =>
    reader.publicClient.readContract({ address: token.address, abi: balanceAbi, functionName: 'balanceOf', args: [who] });

  /** A payment made by the official x402 client, exactly as a caller would send it. */
  async function pay(key: Hex = payerKey, req: PaymentRequirements = requirements): Promise<PaymentPayload> {
    const x402 = x402Client.fromConfig({
      schemes: [{ network: req.network, client: new ExactEvmScheme(toClientEvmSigner(privateKeyToAccount(key))) }],
      spendControls: { allowedAssets: [{ network: req.network, asset: req.asset }] },
    });
    return x402.createPaymentPayload(paymentRequired(resource, [req]));
  }

  it('lists exact on the local chain in /supported', async () => {
    const supported = await client.getSupported();
    assert.deepEqual(
      supported.kinds.find((k) => k.x402Version === 2),
      { x402Version: 2, scheme: 'exact', network: `eip155:${anvil.chainId}` },
    );
    assert.deepEqual(Object.values(supported.signers).flat(), [facilitator.address]);
  });

  it('verifies a good payment', async () => {
    const payload = await pay();
    assert.deepEqual(await client.verify(payload, requirements), { isValid: true, payer });
  });

  it('refuses a payment for another amount', async () => {
    const payload = await pay();
    const wrongAmount = await verifyAnswer(client, payload, { ...requirements, amount: '20000' });
    assert.equal(wrongAmount.isValid, false);
  });

  it('refuses a payment from an unfunded payer', async () => {
    const broke = await verifyAnswer(client, await pay(anvil.accounts[7]!.privateKey), requirements);
    assert.equal(broke.isValid, false);
    assert.match(String(broke.invalidReason), /insufficient_balance|simulation/);
  });

  it('settles on chain, moving exactly the price, and a retry answers the same transaction', async () => {
    const payload = await pay();
    const edge = await verifyExactEvmPayment({
      payment: decodePaymentHeader(encodePaymentSignatureHeader(payload)),
      requirements,
      now: Math.floor(Date.now() / 1000),
    });
    const [payerBefore, payeeBefore] = await Promise.all([balance(payer), balance(payTo)]);
    const first = await client.settle(payload, requirements);
    assert.equal(first.success, true, JSON.stringify(first));
    assert.match(first.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(first.payer, payer);
    const receipt = await reader.publicClient.getTransactionReceipt({ hash: first.transaction as Hex });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.from.toLowerCase(), facilitator.address.toLowerCase(), 'the facilitator pays the gas');
    assert.equal(await balance(payer), payerBefore - 10_000n);
    assert.equal(await balance(payTo), payeeBefore + 10_000n);

    const retry = await client.settle(payload, requirements);
    assert.equal(retry.success, true);
    assert.equal(retry.transaction, first.transaction);
    assert.equal(await balance(payer), payerBefore - 10_000n, 'a retry never charges twice');
    assert.ok(edge.nonceKey.endsWith((payload.payload.authorization as { nonce: string }).nonce));
  });

  it('concurrent settles of one payment share one transaction; a forged copy racing them gets nothing', async () => {
    const payload = await pay();
    const other = await pay(anvil.accounts[6]!.privateKey);
    const forged = { ...payload, payload: { ...payload.payload, signature: other.payload.signature } };
    const payerBefore = await balance(payer);
    const [forgedResult, ...results] = await Promise.all([
      settleAnswer(client, forged, requirements),
      ...[1, 2, 3].map(() => client.settle(payload, requirements)),
    ]);
    assert.ok(results.every((r) => r.success));
    assert.equal(new Set(results.map((r) => r.transaction)).size, 1);
    assert.equal(forgedResult.success, false);
    assert.equal(await balance(payer), payerBefore - 10_000n);
  });

  it('settles many different authorizations sent at once, each in its own transaction, none waiting on another', async () => {
    // One facilitator account signs every settlement: transactions built concurrently must not share a
    // nonce (one would replace the other in the pool, and the replaced one's settlement would wait
    // for a receipt that never comes).
    const payloads = await Promise.all(Array.from({ length: 24 }, () => pay()));
    const payerBefore = await balance(payer);
    const results = await Promise.all(
      payloads.map((p) =>
        Promise.race([
          client.settle(p, requirements),
          new Promise<never>((_, no) => setTimeout(() => no(new Error('settlement hung')), 60_000).unref()),
        ]),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.success),
      payloads.map(() => true),
    );
    assert.equal(new Set(results.map((r) => r.transaction)).size, payloads.length);
    assert.equal(await balance(payer), payerBefore - 10_000n * BigInt(payloads.length));
  });

  it('a restarted facilitator still answers a settled payment with its original transaction, but not a forged one', async () => {
    const payload = await pay();
    const first = await client.settle(payload, requirements);
    assert.equal(first.success, true);
    const restarted = await startFacilitator({ rpcUrl: anvil.rpcUrl, privateKey: facilitatorKey });
    try {
      const fresh = new HTTPFacilitatorClient({ url: restarted.url });
      const again = await fresh.settle(payload, requirements);
      assert.deepEqual({ success: again.success, transaction: again.transaction }, { success: true, transaction: first.transaction });

      // Anyone can copy a used nonce from the chain; without the payer's signature it proves nothing.
      const other = await pay(anvil.accounts[6]!.privateKey);
      const forged = { ...payload, payload: { ...payload.payload, signature: other.payload.signature } };
      const answer = await settleAnswer(fresh, forged, requirements);
      assert.equal(answer.success, false);
      assert.equal(answer.errorReason, 'invalid_exact_evm_nonce_already_used');
    } finally {
      await restarted.stop();
    }
  });

  describe('answers protocol errors without touching the chain', () => {
    const post = (path: string, body: string) =>
      fetch(`${facilitator.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

    it('400 invalid_request for a settle without a payment', async () => {
      const bad = await post('/settle', '{"x402Version":2}');
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: string }).error, 'invalid_request');
    });

    it('400 for a body that is not JSON', async () => {
      assert.equal((await post('/verify', 'not json')).status, 400);
    });

    it('413 for a body over the limit', async () => {
      assert.equal((await post('/verify', 'x'.repeat(70_000))).status, 413);
    });

    it('404 for an unknown path', async () => {
      assert.equal((await fetch(`${facilitator.url}/nope`)).status, 404);
    });

    it('invalid_network for requirements on another chain', async () => {
      const payload = await pay();
      const elsewhere = { ...requirements, network: 'eip155:8453' as const };
      const wrongNetwork = await post('/verify', JSON.stringify({ x402Version: 2, paymentPayload: payload, paymentRequirements: elsewhere }));
      assert.deepEqual(await wrongNetwork.json(), { isValid: false, invalidReason: 'invalid_network' });
    });
  });

  it('runs from the command line with a key file and never prints the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-facilitator-'));
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, `${facilitatorKey}\n`, { mode: 0o600 });
    const child = spawn(process.execPath, ['--import', 'tsx', 'facilitator/main.ts', '--rpc', anvil.rpcUrl, '--port', '0', '--key-file', keyFile], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /on (http:\/\/\S+)/.exec(output);
          if (match) resolve(match[1]!);
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => reject(new Error(`facilitator exited ${code}: ${output}`)));
        // Bounded: a facilitator that never says where it listens fails the test instead of hanging it.
        setTimeout(() => reject(new Error(`facilitator printed no address within 60 s: ${output}`)), 60_000).unref();
      });
      const supported = (await (await fetch(`${url}/supported`)).json()) as { kinds: unknown[] };
      assert.ok(supported.kinds.length > 0);
    } finally {
      child.kill('SIGTERM');
      await waitForExit(child, 'the facilitator CLI', 30_000);
      rmSync(dir, { recursive: true, force: true });
    }
    // Checked on everything it printed until it exited.
    assert.ok(!output.includes(facilitatorKey.slice(2)), 'the key is never printed');
  });
});
