/**
 * Reading OperatorRegistry snapshots from chain: the keys and stakes of its members at the end of a
 * block, from the contract's own checkpoints (so any node answers, archive or not). The gateway
 * snapshots the registry for every task, signer nodes read the snapshot a task names, and verifiers
 * read the snapshot an attestation names: all see the same registry.
 */
import { bytesToHex, hexToBytes, parseAbi, type Address, type PublicClient } from 'viem';
import { ProofgateError } from '../errors';
import type { OperatorRegistry } from './operator-registry';

/** The view functions of contracts/OperatorRegistry.sol that off-chain code reads. */
export const operatorRegistryAbi = parseAbi([
  'function snapshotAt(uint64 blockNumber) view returns (string[] names, bytes[] publicKeys, uint256[] stakes)',
  'function stakeAt(bytes32 id, uint64 blockNumber) view returns (uint96)',
  'function totalStakeAt(uint64 blockNumber) view returns (uint256)',
]);

/** What reading needs from a viem PublicClient. */
export type RegistryChainClient = Pick<PublicClient, 'readContract' | 'getBlockNumber'>;

/** The registry could not be read (no RPC, a wrong address, a block the chain does not have yet). */
export class RegistryUnavailableError extends ProofgateError {
  constructor(message: string) {
    super('registry_unavailable', message, 503, { retryAfterSeconds: 5 });
  }
}

/** The members of `address` at the end of `blockNumber`, as the contract's checkpoints record them. */
export async function readRegistrySnapshot(client: RegistryChainClient, address: Address, blockNumber: number): Promise<OperatorRegistry> {
  let result: readonly [readonly string[], readonly `0x${string}`[], readonly bigint[]];
  try {
    result = await client.readContract({ address, abi: operatorRegistryAbi, functionName: 'snapshotAt', args: [BigInt(blockNumber)] });
  } catch {
    // The node's error text stays out of the message: it may travel to callers.
    throw new RegistryUnavailableError(`the operator registry could not be read at block ${blockNumber}`);
  }
  const [names, publicKeys, stakes] = result;
  return {
    address,
    blockNumber,
    operators: names.map((id, i) => ({ id, blsPublicKey: bytesToHex(hexToBytes(publicKeys[i]!)), stake: stakes[i]! })),
  };
}

/** The latest block's snapshot: what a new task is judged under. */
export async function readLatestRegistrySnapshot(client: RegistryChainClient, address: Address): Promise<OperatorRegistry> {
  let head: bigint;
  try {
    head = await client.getBlockNumber({ cacheTime: 0 });
  } catch {
    throw new RegistryUnavailableError('the chain head could not be read');
  }
  return readRegistrySnapshot(client, address, Number(head));
}
