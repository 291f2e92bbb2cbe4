/**
 * The OperatorRegistry contract from Node: deploy it, register operators (the contract checks each
 * proof of possession on chain), change stakes. Its owner is whoever administers the operator set.
 */
import { join } from 'node:path';
import { hexToBytes, keccak256, stringToBytes, type Address, type Hex } from 'viem';
import { toEip2537G1, toEip2537G2 } from '../core/attestation';
import { ProofgateError } from '../core/errors';
import { connect } from './clients';
import { deployContract } from './deploy';
import { contractsDir } from './repo-paths';
import { compileContract, type CompiledContract } from './solc';

/** A transaction against the OperatorRegistry did not succeed. */
export class OperatorRegistryTxError extends ProofgateError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('operator_registry_tx_failed', message, 500, details);
  }
}

/** An operator to register: its id (name), compressed BLS key and proof of possession, and stake. */
export type OnChainOperator = { id: string; blsPublicKey: Hex; proofOfPossession: Hex; stake: bigint };

/** Compiles OperatorRegistry (cached). */
export function operatorRegistryArtifact(): CompiledContract {
  return compileContract(join(contractsDir, 'OperatorRegistry.sol'), 'OperatorRegistry');
}

/** The on-chain id of an operator: keccak256 of its id (UTF-8). */
export function operatorIdToBytes32(id: string): Hex {
  return keccak256(stringToBytes(id));
}

/** Deploys an empty OperatorRegistry owned by `ownerKey`'s account. */
export async function deployOperatorRegistry(rpcUrl: string, ownerKey: Hex): Promise<Address> {
  return deployContract(rpcUrl, ownerKey, operatorRegistryArtifact(), []);
}

async function send(rpcUrl: string, ownerKey: Hex, registry: Address, functionName: string, args: unknown[], what: string): Promise<bigint> {
  const { walletClient, publicClient } = await connect(rpcUrl, ownerKey);
  const hash = await walletClient.writeContract({ address: registry, abi: operatorRegistryArtifact().abi, functionName, args });
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success') throw new OperatorRegistryTxError(`${what} reverted`, { hash });
  return receipt.blockNumber;
}

/** Registers operators with their stakes, one transaction each; returns the block of the last one. */
export async function registerOperatorsOnChain(
  rpcUrl: string,
  ownerKey: Hex,
  registry: Address,
  operators: readonly OnChainOperator[],
): Promise<bigint> {
  let block = 0n;
  for (const operator of operators) {
    const args = [operator.id, toEip2537G1(hexToBytes(operator.blsPublicKey)), toEip2537G2(hexToBytes(operator.proofOfPossession)), operator.stake];
    block = await send(rpcUrl, ownerKey, registry, 'registerOperator', args, `registering operator ${operator.id}`);
  }
  return block;
}

/** Sets an operator's stake (zero takes it out of later quorums); returns the block it took effect in. */
export async function setOperatorStake(rpcUrl: string, ownerKey: Hex, registry: Address, id: string, stake: bigint): Promise<bigint> {
  return send(rpcUrl, ownerKey, registry, 'setStake', [operatorIdToBytes32(id), stake], `setting the stake of ${id}`);
}
