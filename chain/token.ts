import type { Abi, Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import { connect } from './clients';
import { deployContract } from './deploy';
import { compileContract, type CompiledContract } from './solc';
import { contractsDir } from './repo-paths';
import { join } from 'node:path';

/** The test stablecoin's EIP-712 domain name and version (what x402's `extra` carries). */
export const tokenDomain = { name: 'Proofgate USD', version: '1' } as const;

/** The token has 6 decimals, like USDC, so 1 pgUSD = 1_000_000 base units. */
export const tokenDecimals = 6;

/** A mint transaction did not succeed. */
export class MintError extends ProofgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('mint_failed', message, 500, details);
  }
}

/** A deployed ProofgateUSD and a helper that mints from the deployer (its owner). */
export type DeployedToken = {
  address: Hex;
  name: string;
  version: string;
  decimals: number;
  abi: Abi;
  /** Mints `amount` base units to `to`, waits for the receipt and returns the tx hash. */
  mint(to: Hex, amount: bigint): Promise<Hex>;
};

/** Compiles contracts/ProofgateUSD.sol (cached). */
export function tokenArtifact(): CompiledContract {
  return compileContract(join(contractsDir, 'ProofgateUSD.sol'), 'ProofgateUSD');
}

/** A handle on a deployed ProofgateUSD at `address` whose `mint` is signed by `ownerKey` (its deployer). */
export function tokenAt(rpcUrl: string, ownerKey: Hex, address: Hex): DeployedToken {
  const { abi } = tokenArtifact();
  const mint = async (to: Hex, amount: bigint): Promise<Hex> => {
    const { walletClient, publicClient } = await connect(rpcUrl, ownerKey);
    const hash = await walletClient.writeContract({ address, abi, functionName: 'mint', args: [to, amount] });
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== 'success') throw new MintError(`mint ${hash} reverted`, { hash });
    return hash;
  };
  return { address, ...tokenDomain, decimals: tokenDecimals, abi, mint };
}

/** Deploys ProofgateUSD with `deployerKey` as owner. */
export async function deployToken(rpcUrl: string, deployerKey: Hex): Promise<DeployedToken> {
  const address = await deployContract(rpcUrl, deployerKey, tokenArtifact(), []);
  return tokenAt(rpcUrl, deployerKey, address);
}
