import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { x402Client } from '@x402/core/client';
import { x402Facilitator } from '@x402/core/facilitator';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import {
  PERMIT2_ADDRESS,
  toClientEvmSigner,
  toFacilitatorEvmSigner,
  x402ExactPermit2ProxyAddress,
  x402UptoPermit2ProxyABI,
  x402UptoPermit2ProxyAddress,
} from '@x402/evm';
import { ExactEvmScheme as ExactClient } from '@x402/evm/exact/client';
import { ExactEvmScheme as ExactFacilitator } from '@x402/evm/exact/facilitator';
import { UptoEvmScheme as UptoClient } from '@x402/evm/upto/client';
import { UptoEvmScheme as UptoFacilitator } from '@x402/evm/upto/facilitator';
import { BaseError, ContractFunctionRevertedError, getAddress, keccak256, maxUint256, parseAbi, stringToHex, type Address, type Hex } from 'viem';
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import { deployPermit2Stack } from '../../../chain/permit2';
import { deployToken, tokenDomain, type DeployedToken } from '../../../chain/token';
import { startFacilitator } from '../../../facilitator/service';

// x402 payments over Permit2 on a real anvil with Permit2 and the x402 proxies at their canonical
// addresses (chain/permit2.ts): payloads made by @x402/evm's official clients, verified and settled by
// @x402/evm's official facilitator schemes (exact and upto) with a viem signer, pgUSD moving through
// Permit2 and the proxy on chain.

const erc20 = parseAbi(['function approve(address spender, uint256 value) returns (bool)', 'function balanceOf(address) view returns (uint256)']);
const settledTopic = keccak256(stringToHex('Settled()'));
/** Permit2's InvalidNonce() (not in the proxy's ABI, so viem reports it by selector). */
const invalidNonceSelector = keccak256(stringToHex('InvalidNonce()')).slice(0, 10);

type P2Auth = {
  from: Address;
  permitted: { token: Address; amount: string };
  spender: Address;
  nonce: string;
  deadline: string;
  witness: { to: Address; facilitator?: Address; validAfter: string };
};
const auth = (p: PaymentPayload) => (p.payload as { permit2Authorization: P2Auth; signature: Hex }).permit2Authorization;

/** The custom error name a reverted viem call carries. */
async function revertName(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
  } catch (error) {
    const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : null;
    if (reverted instanceof ContractFunctionRevertedError) return reverted.data?.errorName;
    throw error;
  }
  return undefined;
}

let anvil: AnvilInstance;
let token: DeployedToken;
let payer: PrivateKeyAccount;
let payee: Address;
let facilitatorClients: ChainClients;
let network: `eip155:${number}`;
let facilitator: x402Facilitator;

const balanceOf = (address: Address) =>
  facilitatorClients.publicClient.readContract({ address: token.address, abi: erc20, functionName: 'balanceOf', args: [address] });

before(async () => {
  anvil = await startAnvil();
  const [deployer, payerKey, payeeKey, facilitatorKey] = anvil.accounts;
  network = `eip155:${anvil.chainId}`;
  token = await deployToken(anvil.rpcUrl, deployer!.privateKey);
  await deployPermit2Stack(anvil.rpcUrl, deployer!.privateKey);
  payer = privateKeyToAccount(payerKey!.privateKey);
  payee = payeeKey!.address;
  await token.mint(payer.address, 10_000_000n);

  // The official flow's one on-chain step for the payer: approve Permit2 for the token.
  const payerClients = await connect(anvil.rpcUrl, payerKey!.privateKey);
  const hash = await payerClients.walletClient.writeContract({
    address: token.address,
    abi: erc20,
    functionName: 'approve',
    args: [PERMIT2_ADDRESS, maxUint256],
  });
  assert.equal((await payerClients.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success');

  facilitatorClients = await connect(anvil.rpcUrl, facilitatorKey!.privateKey);
  const { account, publicClient, walletClient } = facilitatorClients;
  // Reads are eth_calls from the facilitator's address, as with a viem wallet client extended with
  // public actions: upto's verify simulates settle(), which only the witness's facilitator may call.
  const signer = toFacilitatorEvmSigner({
    address: account.address,
    readContract: (args) => publicClient.readContract({ ...args, account } as never),
    verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
    writeContract: (args) => walletClient.writeContract(args as never),
    sendTransaction: (args) => walletClient.sendTransaction(args),
    waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt({ ...args, pollingInterval: 50 }),
    getCode: (args) => publicClient.getCode(args),
  });
  facilitator = new x402Facilitator().register(network, new ExactFacilitator(signer)).register(network, new UptoFacilitator(signer));
});
after(() => anvil.stop());

/** A payload from the official client for these requirements (one scheme registered per call). */
async function officialPayload(requirements: PaymentRequirements): Promise<PaymentPayload> {
  const signer = toClientEvmSigner(payer);
  const client = x402Client.fromConfig({
    schemes: [{ network, client: requirements.scheme === 'upto' ? new UptoClient(signer) : new ExactClient(signer) }],
    spendControls: { allowedAssets: [{ network, asset: token.address }] },
  });
  return client.createPaymentPayload({
    x402Version: 2,
    resource: { url: 'https://gw/v1/models/m/infer', description: '', mimeType: '' },
    accepts: [requirements],
  } as never);
}

describe("x402 exact over Permit2, settled on chain by @x402/evm's facilitator", () => {
  let requirements: PaymentRequirements;
  before(() => {
    requirements = {
      scheme: 'exact',
      network,
      amount: '1000',
      asset: token.address,
      payTo: payee,
      maxTimeoutSeconds: 300,
      extra: { ...tokenDomain, assetTransferMethod: 'permit2' },
    };
  });

  it('moves exactly the amount from payer to payee through the exact proxy', async () => {
    const payload = await officialPayload(requirements);
    assert.equal(getAddress(auth(payload).spender), x402ExactPermit2ProxyAddress);
    // verify simulates settle() through the proxy and Permit2.
    assert.deepEqual(await facilitator.verify(payload, requirements), { isValid: true, invalidReason: undefined, payer: payer.address });

    const [payerBefore, payeeBefore] = [await balanceOf(payer.address), await balanceOf(payee)];
    const settled = await facilitator.settle(payload, requirements);
    assert.equal(settled.success, true, JSON.stringify(settled));
    assert.equal(settled.payer, payer.address);
    assert.equal(await balanceOf(payer.address), payerBefore - 1000n);
    assert.equal(await balanceOf(payee), payeeBefore + 1000n);

    const receipt = await facilitatorClients.publicClient.getTransactionReceipt({ hash: settled.transaction as Hex });
    assert.equal(getAddress(receipt.to!), x402ExactPermit2ProxyAddress);
    assert.ok(receipt.logs.some((l) => getAddress(l.address) === x402ExactPermit2ProxyAddress && l.topics[0] === settledTopic));
  });

  it("refuses a replay of the same payload: Permit2's nonce is spent, nothing moves", async () => {
    const payload = await officialPayload(requirements);
    assert.equal((await facilitator.settle(payload, requirements)).success, true);
    const before = await balanceOf(payer.address);

    const verified = await facilitator.verify(payload, requirements);
    assert.equal(verified.isValid, false);
    assert.equal(verified.invalidReason, 'permit2_simulation_failed');
    const replay = await facilitator.settle(payload, requirements);
    assert.equal(replay.success, false);
    assert.equal(replay.transaction, '');
    assert.ok(replay.errorReason?.includes(invalidNonceSelector), replay.errorReason);
    assert.equal(await balanceOf(payer.address), before);
  });
});

describe("x402 exact over Permit2 through the project's facilitator (facilitator/service.ts), unchanged", () => {
  it('settles an official-client Permit2 payload over HTTP /settle', async () => {
    const running = await startFacilitator({ rpcUrl: anvil.rpcUrl, privateKey: anvil.accounts[4]!.privateKey });
    try {
      const requirements: PaymentRequirements = {
        scheme: 'exact',
        network,
        amount: '777',
        asset: token.address,
        payTo: payee,
        maxTimeoutSeconds: 300,
        extra: { ...tokenDomain, assetTransferMethod: 'permit2' },
      };
      const payload = await officialPayload(requirements);
      const before = await balanceOf(payer.address);
      const post = async (route: string) =>
        (
          await fetch(`${running.url}${route}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ x402Version: 2, paymentPayload: payload, paymentRequirements: requirements }),
          })
        ).json() as Promise<{ isValid?: boolean; success?: boolean; transaction?: string }>;
      assert.equal((await post('/verify')).isValid, true);
      const settled = await post('/settle');
      assert.equal(settled.success, true, JSON.stringify(settled));
      assert.equal(await balanceOf(payer.address), before - 777n);
    } finally {
      await running.stop();
    }
  });
});

describe("x402 upto over Permit2, settled on chain by @x402/evm's facilitator", () => {
  const max = 5000n;
  let requirements: PaymentRequirements;
  before(() => {
    requirements = {
      scheme: 'upto',
      network,
      amount: max.toString(),
      asset: token.address,
      payTo: payee,
      maxTimeoutSeconds: 300,
      extra: { ...tokenDomain, facilitatorAddress: facilitatorClients.account.address },
    };
  });

  it('settles less than the signed maximum and moves exactly that', async () => {
    const payload = await officialPayload(requirements);
    const a = auth(payload);
    assert.equal(getAddress(a.spender), x402UptoPermit2ProxyAddress);
    assert.equal(a.permitted.amount, max.toString());
    assert.equal(getAddress(a.witness.facilitator!), facilitatorClients.account.address);
    assert.equal((await facilitator.verify(payload, requirements)).isValid, true);

    const [payerBefore, payeeBefore] = [await balanceOf(payer.address), await balanceOf(payee)];
    // The facilitator settles what was used: requirements.amount at settle time is the actual charge.
    const settled = await facilitator.settle(payload, { ...requirements, amount: '1234' });
    assert.equal(settled.success, true, JSON.stringify(settled));
    assert.equal(settled.amount, '1234');
    assert.equal(await balanceOf(payer.address), payerBefore - 1234n);
    assert.equal(await balanceOf(payee), payeeBefore + 1234n);
    const receipt = await facilitatorClients.publicClient.getTransactionReceipt({ hash: settled.transaction as Hex });
    assert.equal(getAddress(receipt.to!), x402UptoPermit2ProxyAddress);

    // Permit2 spends the nonce whatever the amount: the rest of the maximum cannot be drawn later.
    const again = await facilitator.settle(payload, { ...requirements, amount: '1' });
    assert.equal(again.success, false);
    assert.equal(again.errorReason, 'permit2_simulation_failed');
    assert.equal(await balanceOf(payer.address), payerBefore - 1234n);
  });

  it('refuses more than the maximum: the facilitator before sending, and the proxy itself', async () => {
    const payload = await officialPayload(requirements);
    const before = await balanceOf(payer.address);
    const over = await facilitator.settle(payload, { ...requirements, amount: (max + 1n).toString() });
    assert.equal(over.success, false);
    assert.equal(over.errorReason, 'invalid_upto_evm_payload_settlement_exceeds_amount');

    // Called directly, by the facilitator named in the witness, the proxy reverts.
    const a = auth(payload);
    const settleArgs = (amount: bigint) =>
      [
        { permitted: { token: a.permitted.token, amount: BigInt(a.permitted.amount) }, nonce: BigInt(a.nonce), deadline: BigInt(a.deadline) },
        amount,
        a.from,
        { to: a.witness.to, facilitator: a.witness.facilitator!, validAfter: BigInt(a.witness.validAfter) },
        (payload.payload as { signature: Hex }).signature,
      ] as const;
    const call = (amount: bigint, clients = facilitatorClients) =>
      clients.walletClient.writeContract({
        address: x402UptoPermit2ProxyAddress,
        abi: x402UptoPermit2ProxyABI,
        functionName: 'settle',
        args: settleArgs(amount),
      });
    assert.equal(await revertName(call(max + 1n)), 'AmountExceedsPermitted');
    // Only the facilitator in the witness may choose the amount.
    const stranger = await connect(anvil.rpcUrl, anvil.accounts[5]!.privateKey);
    assert.equal(await revertName(call(max, stranger)), 'UnauthorizedFacilitator');
    assert.equal(await balanceOf(payer.address), before);

    // The payload is still good for up to the maximum.
    const hash = await call(max);
    assert.equal((await facilitatorClients.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success');
    assert.equal(await balanceOf(payer.address), before - max);
  });
});
