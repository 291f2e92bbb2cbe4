import { getAddress, type Abi, type Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import { connect } from './clients';

/** The deployment transaction failed or created no contract. */
export class DeployError extends ProofgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('deploy_failed', message, 500, details);
  }
}

/** Deploys a compiled contract, waits for its receipt and returns the new contract's (checksummed) address. */
export async function deployContract(rpcUrl: string, deployerPrivateKey: Hex, artifact: { abi: Abi; bytecode: Hex }, args: unknown[]): Promise<Hex> {
  const { walletClient, publicClient } = await connect(rpcUrl, deployerPrivateKey);
  const hash = await walletClient.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new DeployError(`deployment ${hash} failed (status ${receipt.status})`, { hash });
  }
  return getAddress(receipt.contractAddress);
}
