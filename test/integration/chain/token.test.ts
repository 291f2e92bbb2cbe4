import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BaseError, ContractFunctionRevertedError, parseAbi, parseSignature, serializeSignature, toHex, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import { deployContract } from '../../../chain/deploy';
import { compileContract } from '../../../chain/solc';
import { deployToken, type DeployedToken } from '../../../chain/token';
import { join } from 'node:path';

const abi = parseAbi([
  'function balanceOf(address) view returns (uint256)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'function nonces(address) view returns (uint256)',
  'function allowance(address, address) view returns (uint256)',
  'function DOMAIN_SEPARATOR() view returns (bytes32)',
  'function name() view returns (string)',
  'function symbol() view returns (string)',
  'function decimals() view returns (uint8)',
  'function mint(address to, uint256 value)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)',
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
  'function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
  'function cancelAuthorization(address authorizer, bytes32 nonce, bytes signature)',
  'function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)',
  'error InvalidSignature()',
  'error AuthorizationNotYetValid()',
  'error AuthorizationExpired()',
  'error AuthorizationAlreadyUsed()',
  'error CallerMustBePayee()',
  'error NotOwner()',
  'error PermitExpired()',
]);

const transferTypes = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;

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

function randomNonce(): Hex {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

describe('ProofgateUSD on anvil', () => {
  let anvil: AnvilInstance;
  let token: DeployedToken;
  let relayer: ChainClients;
  let payer: ReturnType<typeof privateKeyToAccount>;
  let payee: Hex;
  let now: bigint;

  before(async () => {
    anvil = await startAnvil();
    const [deployer, payerKey, payeeKey, relayerKey] = anvil.accounts;
    token = await deployToken(anvil.rpcUrl, deployer!.privateKey);
    payer = privateKeyToAccount(payerKey!.privateKey);
    payee = payeeKey!.address;
    relayer = await connect(anvil.rpcUrl, relayerKey!.privateKey);
    await token.mint(payer.address, 10_000_000n);
    now = (await relayer.publicClient.getBlock()).timestamp;
  });
  after(async () => {
    await anvil?.stop();
  });

  const domain = () => ({ name: token.name, version: token.version, chainId: anvil.chainId, verifyingContract: token.address });
  const read = <T>(functionName: 'balanceOf' | 'authorizationState', args: readonly unknown[]) =>
    relayer.publicClient.readContract({ address: token.address, abi, functionName, args } as never) as Promise<T>;
  const balance = (who: Hex) => read<bigint>('balanceOf', [who]);

  async function authorize(value: bigint, opts: { validAfter?: bigint; validBefore?: bigint; signer?: ReturnType<typeof privateKeyToAccount> } = {}) {
    const message = {
      from: payer.address,
      to: payee,
      value,
      validAfter: opts.validAfter ?? now - 60n,
      validBefore: opts.validBefore ?? now + 600n,
      nonce: randomNonce(),
    };
    const signature = await (opts.signer ?? payer).signTypedData({
      domain: domain(),
      types: transferTypes,
      primaryType: 'TransferWithAuthorization',
      message,
    });
    return { message, signature };
  }

  async function submitVrs(auth: Awaited<ReturnType<typeof authorize>>) {
    const { v, r, s } = parseSignature(auth.signature);
    const m = auth.message;
    const hash = await relayer.walletClient.writeContract({
      address: token.address,
      abi,
      functionName: 'transferWithAuthorization',
      args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, Number(v), r, s],
    });
    return relayer.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  }

  it('has the metadata x402 needs', async () => {
    const get = (functionName: 'name' | 'symbol' | 'decimals') => relayer.publicClient.readContract({ address: token.address, abi, functionName });
    assert.equal(await get('name'), 'Proofgate USD');
    assert.equal(await get('symbol'), 'pgUSD');
    assert.equal(await get('decimals'), 6);
  });

  it('the owner mints exactly the amount asked', async () => {
    // An account no other test touches, so its balance is the mint alone whatever ran before.
    const fresh = anvil.accounts[8]!.address;
    await token.mint(fresh, 10_000_000n);
    assert.equal(await balance(fresh), 10_000_000n);
  });

  it('only the owner mints', async () => {
    const call = relayer.publicClient.simulateContract({
      account: relayer.account,
      address: token.address,
      abi,
      functionName: 'mint',
      args: [payee, 1n],
    });
    assert.equal(await revertName(call), 'NotOwner');
  });

  it('moves exactly the authorized value with a (v,r,s) signature, once', async () => {
    const auth = await authorize(1_250_000n);
    const [payerBefore, payeeBefore, relayerBefore] = await Promise.all([balance(payer.address), balance(payee), balance(relayer.account.address)]);
    const receipt = await submitVrs(auth);
    assert.equal(receipt.status, 'success');
    assert.equal(await balance(payer.address), payerBefore - 1_250_000n);
    assert.equal(await balance(payee), payeeBefore + 1_250_000n);
    assert.equal(await balance(relayer.account.address), relayerBefore);
    assert.equal(await read<boolean>('authorizationState', [payer.address, auth.message.nonce]), true);

    const m = auth.message;
    const replay = relayer.publicClient.simulateContract({
      account: relayer.account,
      address: token.address,
      abi,
      functionName: 'transferWithAuthorization',
      args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, auth.signature],
    });
    assert.equal(await revertName(replay), 'AuthorizationAlreadyUsed');
  });

  it('accepts the bytes-signature overload', async () => {
    const auth = await authorize(5n);
    const m = auth.message;
    const before = await balance(payee);
    const hash = await relayer.walletClient.writeContract({
      address: token.address,
      abi,
      functionName: 'transferWithAuthorization',
      args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, auth.signature],
    });
    assert.equal((await relayer.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success');
    assert.equal(await balance(payee), before + 5n);
  });

  async function simulateBytes(
    auth: Awaited<ReturnType<typeof authorize>>,
    overrides: Partial<Awaited<ReturnType<typeof authorize>>['message']> = {},
    signature: Hex = auth.signature,
  ) {
    const m = { ...auth.message, ...overrides };
    return revertName(
      relayer.publicClient.simulateContract({
        account: relayer.account,
        address: token.address,
        abi,
        functionName: 'transferWithAuthorization',
        args: [m.from, m.to, m.value, m.validAfter, m.validBefore, m.nonce, signature],
      }),
    );
  }

  it('rejects an expired authorization', async () => {
    assert.equal(await simulateBytes(await authorize(1n, { validAfter: 0n, validBefore: now - 1n })), 'AuthorizationExpired');
  });

  it('rejects a not-yet-valid authorization', async () => {
    assert.equal(await simulateBytes(await authorize(1n, { validAfter: now + 3600n, validBefore: now + 7200n })), 'AuthorizationNotYetValid');
  });

  it('rejects a wrong signer', async () => {
    const stranger = privateKeyToAccount(anvil.accounts[5]!.privateKey);
    assert.equal(await simulateBytes(await authorize(1n, { signer: stranger })), 'InvalidSignature');
  });

  it('rejects a tampered value', async () => {
    assert.equal(await simulateBytes(await authorize(1n), { value: 2n }), 'InvalidSignature');
  });

  it('rejects a tampered recipient', async () => {
    const stranger = privateKeyToAccount(anvil.accounts[5]!.privateKey);
    assert.equal(await simulateBytes(await authorize(1n), { to: stranger.address }), 'InvalidSignature');
  });

  it('rejects a malleable (high-s) signature', async () => {
    const auth = await authorize(1n);
    // (r, n - s, flipped v) recovers the same key; EIP-2 requires the contract to refuse it.
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const { r, s, yParity } = parseSignature(auth.signature);
    const malleable = serializeSignature({ r, s: toHex(n - BigInt(s), { size: 32 }), yParity: yParity === 0 ? 1 : 0 });
    assert.equal(await simulateBytes(auth, {}, malleable), 'InvalidSignature');
    assert.equal(await simulateBytes(auth), undefined, 'the untampered authorization still simulates fine');
  });

  it("accepts an ERC-1271 smart wallet as the payer, and only with its owner's signature", async () => {
    const artifact = compileContract(join(import.meta.dirname, 'fixtures', 'OwnedWallet.sol'), 'OwnedWallet');
    const wallet = await deployContract(anvil.rpcUrl, anvil.accounts[0]!.privateKey, artifact, [payer.address]);
    await token.mint(wallet, 100n);
    const message = { from: wallet, to: payee, value: 40n, validAfter: 0n, validBefore: now + 600n, nonce: randomNonce() };
    const sign = (signer: ReturnType<typeof privateKeyToAccount>) =>
      signer.signTypedData({ domain: domain(), types: transferTypes, primaryType: 'TransferWithAuthorization', message });
    const submit = (signature: Hex) => ({
      account: relayer.account,
      address: token.address,
      abi,
      functionName: 'transferWithAuthorization' as const,
      args: [message.from, message.to, message.value, message.validAfter, message.validBefore, message.nonce, signature] as const,
    });
    const stranger = privateKeyToAccount(anvil.accounts[5]!.privateKey);
    assert.equal(await revertName(relayer.publicClient.simulateContract(submit(await sign(stranger)))), 'InvalidSignature');
    const before = await balance(payee);
    const hash = await relayer.walletClient.writeContract(submit(await sign(payer)));
    assert.equal((await relayer.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success');
    assert.equal(await balance(payee), before + 40n);
    assert.equal(await balance(wallet), 60n);
  });

  it('cancels an unused authorization so it can no longer be used', async () => {
    const auth = await authorize(1n);
    const signature = await payer.signTypedData({
      domain: domain(),
      types: {
        CancelAuthorization: [
          { name: 'authorizer', type: 'address' },
          { name: 'nonce', type: 'bytes32' },
        ],
      },
      primaryType: 'CancelAuthorization',
      message: { authorizer: payer.address, nonce: auth.message.nonce },
    });
    const hash = await relayer.walletClient.writeContract({
      address: token.address,
      abi,
      functionName: 'cancelAuthorization',
      args: [payer.address, auth.message.nonce, signature],
    });
    assert.equal((await relayer.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success');
    assert.equal(await simulateBytes(auth), 'AuthorizationAlreadyUsed');
  });

  it('receiveWithAuthorization may only be submitted by the payee', async () => {
    const message = { from: payer.address, to: payee, value: 1n, validAfter: 0n, validBefore: now + 600n, nonce: randomNonce() };
    const signature = await payer.signTypedData({
      domain: domain(),
      types: { ReceiveWithAuthorization: transferTypes.TransferWithAuthorization },
      primaryType: 'ReceiveWithAuthorization',
      message,
    });
    const args = [message.from, message.to, message.value, message.validAfter, message.validBefore, message.nonce, signature] as const;
    assert.equal(
      await revertName(
        relayer.publicClient.simulateContract({
          account: relayer.account,
          address: token.address,
          abi,
          functionName: 'receiveWithAuthorization',
          args,
        }),
      ),
      'CallerMustBePayee',
    );
    assert.equal(
      await revertName(
        relayer.publicClient.simulateContract({ account: payee, address: token.address, abi, functionName: 'receiveWithAuthorization', args }),
      ),
      undefined,
    );
  });

  it('permit (EIP-2612) sets an allowance and bumps the nonce', async () => {
    const spender = relayer.account.address;
    const deadline = now + 600n;
    const nonce = (await relayer.publicClient.readContract({ address: token.address, abi, functionName: 'nonces', args: [payer.address] })) as bigint;
    const signature = await payer.signTypedData({
      domain: domain(),
      types: {
        Permit: [
          { name: 'owner', type: 'address' },
          { name: 'spender', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Permit',
      message: { owner: payer.address, spender, value: 42n, nonce, deadline },
    });
    const { v, r, s } = parseSignature(signature);
    const hash = await relayer.walletClient.writeContract({
      address: token.address,
      abi,
      functionName: 'permit',
      args: [payer.address, spender, 42n, deadline, Number(v), r, s],
    });
    assert.equal((await relayer.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })).status, 'success');
    assert.equal(
      await relayer.publicClient.readContract({ address: token.address, abi, functionName: 'allowance', args: [payer.address, spender] }),
      42n,
    );
    assert.equal(await relayer.publicClient.readContract({ address: token.address, abi, functionName: 'nonces', args: [payer.address] }), nonce + 1n);
    const replay = relayer.publicClient.simulateContract({
      account: relayer.account,
      address: token.address,
      abi,
      functionName: 'permit',
      args: [payer.address, spender, 42n, deadline, Number(v), r, s],
    });
    assert.equal(await revertName(replay), 'InvalidSignature');
  });
});
