import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PERMIT2_ADDRESS, x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress } from '@x402/evm';
import { concat, getAddress, getContractAddress, keccak256, type Address, type Hex, type PublicClient } from 'viem';
import { connect } from './clients';
import { DeployError } from './deploy';
import { proofgateDir, contractsDir, repoRoot } from './repo-paths';
import { compileContract, SolcCompileError, type CompiledContract } from './solc';

// Uniswap Permit2 and x402's two Permit2 proxies on a local anvil chain, at their canonical addresses,
// so that @x402/evm's client and facilitator code paths for `exact` (assetTransferMethod permit2) and
// `upto` run unmodified.
//
// Permit2 is the real thing, deployed the way Uniswap deployed it: its sources come from the npm package
// @uniswap/v4-periphery (lib/permit2, the same code as Permit2's deployment tag), compiled by solcjs
// 0.8.17 from npm (the `solc-0.8.17` alias) with Permit2's settings (via-IR, optimizer runs 1,000,000,
// bytecodeHash none, london), and created through the deterministic CREATE2 deployer with Permit2's
// salt. The initcode's keccak256 equals the canonical one, so the address is canonical by construction
// and the constructor caches this chain's id and domain separator itself.
//
// Reproducing the initcode needs one detail beyond the settings: every source, solmate's included, is
// handed to solc up front, as forge does. Sources that solc only meets through the import callback are
// parsed last, get higher AST ids, and via-IR then generates internal functions in another order
// (here solmate's safeTransferFrom ends up last): same behaviour, different bytes, different address.
//
// The x402 proxies are Proofgate's own Solidity (contracts/x402/x402Permit2Proxies.sol), compatible in
// ABI and behaviour with x402's but not its bytecode, so they cannot come out at x402's CREATE2 addresses;
// their runtime code is placed there with anvil_setCode. That code has no immutables and no constructor
// (Permit2's address is a constant), so what runs at the canonical address is exactly what solc emitted.

/** The deterministic-deployment proxy that anvil predeploys (and most chains have). */
export const CREATE2_DEPLOYER: Address = '0x4e59b44847b379578588920cA78FbF26c0B4956C';

/** The salt Uniswap deployed Permit2 with (Permit2's script/DeployPermit2.s.sol). */
export const PERMIT2_SALT: Hex = '0x0000000000000000000000000000000000000000d3af2663da51c10215000000';

/** keccak256 of Permit2's canonical initcode: CREATE2(deployer, salt, this) = PERMIT2_ADDRESS. */
export const PERMIT2_INITCODE_HASH: Hex = '0xe2be1e05eedf35dacd66c65c862f8150ff9ab4b6b24b9bbe62be71b6b16cf0f8';

export { PERMIT2_ADDRESS, x402ExactPermit2ProxyAddress, x402UptoPermit2ProxyAddress };

/** Which of the three contracts a deployPermit2Stack call put on chain (the others were already there). */
export type Permit2StackPart = 'permit2' | 'exactProxy' | 'uptoProxy';

/** The canonical addresses, all holding code once deployPermit2Stack resolves. */
export type Permit2Stack = {
  permit2: Address;
  exactProxy: Address;
  uptoProxy: Address;
  /** What this call installed; empty when everything was already there. */
  installed: Permit2StackPart[];
};

const permit2Root = join(repoRoot, 'node_modules', '@uniswap', 'v4-periphery', 'lib', 'permit2');
const solmateFiles = ['lib/solmate/src/tokens/ERC20.sol', 'lib/solmate/src/utils/SafeTransferLib.sol'];

type Solc = { compile(input: string): string; version(): string };
type SolcOutput = {
  errors?: { severity: string; formattedMessage?: string; message: string }[];
  contracts?: Record<string, Record<string, { evm: { bytecode: { object: string } } }>>;
};

/** Permit2's sources under the unit names forge used: src/** and the two solmate files it imports. */
function permit2Sources(): Record<string, { content: string }> {
  if (!existsSync(join(permit2Root, 'src', 'Permit2.sol'))) {
    throw new SolcCompileError(`Permit2 sources not found under ${permit2Root} (is @uniswap/v4-periphery installed?)`, []);
  }
  const units: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(permit2Root, dir), { withFileTypes: true })) {
      const unit = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(unit);
      else if (entry.name.endsWith('.sol')) units.push(unit);
    }
  };
  walk('src');
  units.push(...solmateFiles);
  return Object.fromEntries(units.sort().map((unit) => [unit, { content: readFileSync(join(permit2Root, unit), 'utf8') }]));
}

/**
 * Permit2's creation code, compiled from @uniswap/v4-periphery's copy with solc 0.8.17 at Permit2's
 * settings (cached under .proofgate/cache/permit2; the first compile takes ~10 s). Throws if its
 * keccak256 is not PERMIT2_INITCODE_HASH, as then it could not land at the canonical address.
 */
export function permit2InitCode(): Hex {
  const input = {
    language: 'Solidity',
    sources: permit2Sources(),
    settings: {
      remappings: ['solmate/=lib/solmate/'],
      optimizer: { enabled: true, runs: 1_000_000 },
      viaIR: true,
      metadata: { bytecodeHash: 'none' },
      evmVersion: 'london',
      outputSelection: { 'src/Permit2.sol': { Permit2: ['evm.bytecode.object'] } },
    },
  };
  const solcPackage = JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'solc-0.8.17', 'package.json'), 'utf8')) as { version: string };
  const key = createHash('sha256')
    .update(JSON.stringify({ solc: solcPackage.version, input }))
    .digest('hex');
  const cacheDir = join(proofgateDir, 'cache', 'permit2');
  const cacheFile = join(cacheDir, `${key}.json`);
  let initCode: Hex;
  if (existsSync(cacheFile)) {
    initCode = (JSON.parse(readFileSync(cacheFile, 'utf8')) as { initCode: Hex }).initCode;
  } else {
    const solc = createRequire(import.meta.url)('solc-0.8.17') as Solc;
    const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
    const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
    if (errors.length > 0) {
      const messages = errors.map((e) => e.formattedMessage ?? e.message);
      throw new SolcCompileError(`solc ${solc.version()} failed to compile Permit2:\n${messages.join('\n')}`, messages);
    }
    const object = output.contracts?.['src/Permit2.sol']?.Permit2?.evm.bytecode.object;
    if (!object) throw new SolcCompileError('solc produced no bytecode for Permit2', []);
    initCode = `0x${object}`;
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ initCode }));
    renameSync(tmp, cacheFile);
  }
  const hash = keccak256(initCode);
  if (hash !== PERMIT2_INITCODE_HASH) {
    throw new DeployError(`Permit2 initcode hash ${hash} is not the canonical ${PERMIT2_INITCODE_HASH}`, { hash });
  }
  return initCode;
}

/** The x402 proxies compiled from contracts/x402/x402Permit2Proxies.sol (cached by chain/solc.ts). */
export function x402ProxyArtifacts(): { exact: CompiledContract; upto: CompiledContract } {
  const source = join(contractsDir, 'x402', 'x402Permit2Proxies.sol');
  return { exact: compileContract(source, 'x402ExactPermit2Proxy'), upto: compileContract(source, 'x402UptoPermit2Proxy') };
}

type RawRequest = (args: { method: string; params: unknown[] }) => Promise<unknown>;

async function hasCode(client: PublicClient, address: Address): Promise<boolean> {
  const code = await client.getCode({ address });
  return code !== undefined && code !== '0x';
}

/** The runtime code a creation code returns, from an eth_call without `to` (nothing is deployed). */
async function runtimeCode(client: PublicClient, creationCode: Hex): Promise<Hex> {
  const { data } = await client.call({ data: creationCode });
  if (!data || data === '0x') throw new DeployError('the proxy creation code returned no runtime code');
  return data;
}

/**
 * Puts Permit2 (CREATE2 through the deterministic deployer, canonical initcode) and x402's exact and
 * upto Permit2 proxies (Proofgate's implementation, placed with anvil_setCode) at their canonical
 * addresses on the anvil node behind `rpcUrl`. Idempotent: a contract whose address already holds code
 * is left alone, and nothing at all is sent when all three are there. Only the Permit2 deployment is a
 * transaction (signed by `deployerPrivateKey`, so it uses one of its nonces); the proxies need no key.
 */
export async function deployPermit2Stack(rpcUrl: string, deployerPrivateKey: Hex): Promise<Permit2Stack> {
  const { publicClient, walletClient } = await connect(rpcUrl, deployerPrivateKey);
  const client = publicClient as PublicClient;
  const permit2 = getAddress(PERMIT2_ADDRESS);
  const exactProxy = getAddress(x402ExactPermit2ProxyAddress);
  const uptoProxy = getAddress(x402UptoPermit2ProxyAddress);
  const [permit2There, exactThere, uptoThere] = await Promise.all([permit2, exactProxy, uptoProxy].map((a) => hasCode(client, a)));
  const installed: Permit2StackPart[] = [];

  if (!permit2There) {
    const initCode = permit2InitCode();
    const predicted = getContractAddress({ opcode: 'CREATE2', from: CREATE2_DEPLOYER, salt: PERMIT2_SALT, bytecode: initCode });
    if (predicted !== permit2) throw new DeployError(`Permit2 would land at ${predicted}, not ${permit2}`);
    if (!(await hasCode(client, CREATE2_DEPLOYER))) {
      throw new DeployError(`no CREATE2 deployer at ${CREATE2_DEPLOYER} (anvil predeploys it unless --disable-default-create2-deployer)`);
    }
    try {
      const hash = await walletClient.sendTransaction({ to: CREATE2_DEPLOYER, data: concat([PERMIT2_SALT, initCode]) });
      const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      if (receipt.status !== 'success') throw new DeployError(`Permit2 deployment ${hash} reverted`, { hash });
    } catch (error) {
      // Someone else deployed it between our check and our transaction: that is the state we want.
      if (!(await hasCode(client, permit2))) throw error;
    }
    if (!(await hasCode(client, permit2))) throw new DeployError(`Permit2 deployment left no code at ${permit2}`);
    installed.push('permit2');
  }

  const artifacts = !exactThere || !uptoThere ? x402ProxyArtifacts() : undefined;
  const place = async (address: Address, artifact: CompiledContract, part: Permit2StackPart) => {
    const code = await runtimeCode(client, artifact.bytecode);
    await (client.request as unknown as RawRequest)({ method: 'anvil_setCode', params: [address, code] });
    if ((await client.getCode({ address })) !== code) throw new DeployError(`anvil_setCode did not place the ${part} code at ${address}`);
    installed.push(part);
  };
  if (!exactThere) await place(exactProxy, artifacts!.exact, 'exactProxy');
  if (!uptoThere) await place(uptoProxy, artifacts!.upto, 'uptoProxy');

  return { permit2, exactProxy, uptoProxy, installed };
}
