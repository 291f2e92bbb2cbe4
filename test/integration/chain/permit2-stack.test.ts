import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { permit2WitnessTypes, uptoPermit2WitnessTypes, x402ExactPermit2ProxyABI, x402UptoPermit2ProxyABI } from '@x402/evm';
import { getContractAddress, hashDomain, keccak256, parseAbi, stringToHex, type Address, type Hex } from 'viem';
import { startAnvil, type AnvilInstance } from '../../../chain/anvil';
import { connect, type ChainClients } from '../../../chain/clients';
import {
  CREATE2_DEPLOYER,
  PERMIT2_ADDRESS,
  PERMIT2_INITCODE_HASH,
  PERMIT2_SALT,
  deployPermit2Stack,
  permit2InitCode,
  x402ExactPermit2ProxyAddress,
  x402UptoPermit2ProxyAddress,
} from '../../../chain/permit2';

// Permit2 and x402's two Permit2 proxies put on a real anvil at their canonical addresses by
// chain/permit2.ts: Permit2 by CREATE2 with its canonical initcode, the proxies by anvil_setCode.

const permit2Abi = parseAbi(['function DOMAIN_SEPARATOR() view returns (bytes32)', 'function nonceBitmap(address, uint256) view returns (uint256)']);

type Field = { name: string; type: string };

/** EIP-712 encodeType of `primary` in `types`: the primary struct, then its dependencies sorted by name. */
function encodeType(types: Record<string, readonly Field[]>, primary: string): string {
  const deps = new Set<string>();
  const visit = (name: string) => {
    for (const field of types[name] ?? []) {
      const base = field.type.replace(/\[\d*\]$/, '');
      if (types[base] && base !== primary && !deps.has(base)) {
        deps.add(base);
        visit(base);
      }
    }
  };
  visit(primary);
  const one = (name: string) => `${name}(${types[name]!.map((f) => `${f.type} ${f.name}`).join(',')})`;
  return [primary, ...[...deps].sort()].map(one).join('');
}

const permitWitnessStub = 'PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,';

const permit2Domain = (chainId: number) =>
  hashDomain({
    domain: { name: 'Permit2', chainId: BigInt(chainId), verifyingContract: PERMIT2_ADDRESS },
    types: {
      EIP712Domain: [
        { name: 'name', type: 'string' },
        { name: 'chainId', type: 'uint256' },
        { name: 'verifyingContract', type: 'address' },
      ],
    },
  });

describe('permit2InitCode', () => {
  it("compiles Permit2 from npm to the canonical initcode, whose CREATE2 address is Permit2's", () => {
    const initCode = permit2InitCode();
    assert.equal(keccak256(initCode), PERMIT2_INITCODE_HASH);
    assert.equal(getContractAddress({ opcode: 'CREATE2', from: CREATE2_DEPLOYER, salt: PERMIT2_SALT, bytecode: initCode }), PERMIT2_ADDRESS);
  });
});

describe('deployPermit2Stack on a fresh anvil', () => {
  let anvil: AnvilInstance;
  let deployer: ChainClients;

  before(async () => {
    anvil = await startAnvil();
    deployer = await connect(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
  });
  after(() => anvil.stop());

  it('puts code at the three canonical addresses, Permit2 through the CREATE2 deployer', async () => {
    const nonce = await deployer.publicClient.getTransactionCount({ address: deployer.account.address });
    const stack = await deployPermit2Stack(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
    assert.deepEqual(stack.installed, ['permit2', 'exactProxy', 'uptoProxy']);
    assert.equal(stack.permit2, PERMIT2_ADDRESS);
    assert.equal(stack.exactProxy, x402ExactPermit2ProxyAddress);
    assert.equal(stack.uptoProxy, x402UptoPermit2ProxyAddress);
    for (const address of [PERMIT2_ADDRESS, x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress]) {
      const code = await deployer.publicClient.getCode({ address });
      assert.ok(code && code.length > 1000, `code at ${address}`);
    }
    // One transaction (the CREATE2 call); the proxies were placed without any.
    assert.equal(await deployer.publicClient.getTransactionCount({ address: deployer.account.address }), nonce + 1);
  });
});

describe('deployPermit2Stack on an anvil where it has run', () => {
  let anvil: AnvilInstance;
  let deployer: ChainClients;

  // Shared by every test below, none of which changes it (the no-op test checks that it does not).
  before(async () => {
    anvil = await startAnvil();
    deployer = await connect(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
    await deployPermit2Stack(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
  });
  after(() => anvil.stop());

  it('is a no-op once the code is there: nothing installed, no transaction', async () => {
    const nonce = await deployer.publicClient.getTransactionCount({ address: deployer.account.address });
    const block = await deployer.publicClient.getBlockNumber();
    const stack = await deployPermit2Stack(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
    assert.deepEqual(stack.installed, []);
    assert.equal(await deployer.publicClient.getTransactionCount({ address: deployer.account.address }), nonce);
    assert.equal(await deployer.publicClient.getBlockNumber(), block);
  });

  it('has Permit2 answer the EIP-712 domain {name: "Permit2", chainId, verifyingContract: PERMIT2_ADDRESS}', async () => {
    const separator = await deployer.publicClient.readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: 'DOMAIN_SEPARATOR' });
    assert.equal(separator, permit2Domain(anvil.chainId));
    const bitmap = await deployer.publicClient.readContract({
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: 'nonceBitmap',
      args: [deployer.account.address, 0n],
    });
    assert.equal(bitmap, 0n);
  });

  const read = (
    address: Address,
    abi: typeof x402ExactPermit2ProxyABI | typeof x402UptoPermit2ProxyABI,
    functionName: 'PERMIT2' | 'WITNESS_TYPEHASH' | 'WITNESS_TYPE_STRING',
  ) => deployer.publicClient.readContract({ address, abi, functionName }) as Promise<string>;
  const proxies = [
    { name: 'exact', address: x402ExactPermit2ProxyAddress, abi: x402ExactPermit2ProxyABI, types: permit2WitnessTypes },
    { name: 'upto', address: x402UptoPermit2ProxyAddress, abi: x402UptoPermit2ProxyABI, types: uptoPermit2WitnessTypes },
  ] as const;
  for (const { name, address, abi, types } of proxies) {
    it(`has the ${name} proxy name Permit2 and the witness types the official client signs`, async () => {
      assert.equal(await read(address, abi, 'PERMIT2'), PERMIT2_ADDRESS);
      const full = encodeType(types as unknown as Record<string, readonly Field[]>, 'PermitWitnessTransferFrom');
      const typeString = await read(address, abi, 'WITNESS_TYPE_STRING');
      // Permit2 hashes stub + witnessTypeString: it must be the full type the client signed.
      assert.equal(permitWitnessStub + typeString, full);
      assert.equal(
        await read(address, abi, 'WITNESS_TYPEHASH'),
        keccak256(stringToHex(encodeType(types as unknown as Record<string, readonly Field[]>, 'Witness'))),
      );
    });
  }
});

describe('deployPermit2Stack on another chain id', () => {
  let anvil: AnvilInstance;
  before(async () => {
    anvil = await startAnvil({ chainId: 84532 });
  });
  after(() => anvil.stop());

  it("gives Permit2 that chain's domain separator (computed by its own constructor)", async () => {
    await deployPermit2Stack(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
    const client = await connect(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
    const separator = (await client.publicClient.readContract({
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: 'DOMAIN_SEPARATOR',
    })) as Hex;
    assert.equal(separator, permit2Domain(84532));
    assert.notEqual(separator, permit2Domain(31337));
  });
});
