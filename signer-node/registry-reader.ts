/**
 * How a signer node learns the registry snapshot a task names: straight from the OperatorRegistry
 * contract on chain, never from the gateway, so the keys it checks PolicyData reports against and
 * the stakes it computes the consensus with are the chain's.
 */
import { createPublicClient, http, type Address } from 'viem';
import { readRegistrySnapshot, RegistryUnavailableError, type OperatorRegistry, type RegistryChainClient } from '../core/attestation';
import { ProofgateError } from '../core/errors';

/** Gives the registry snapshot of a task (contract and block), or throws. */
export interface RegistrySnapshots {
  snapshot(address: Address, blockNumber: number): Promise<OperatorRegistry>;
}

/** A task names a registry other than the one this node serves, or a block that is not sealed yet. */
export class TaskRegistryError extends ProofgateError {
  constructor(message: string) {
    super('unknown_registry', message, 422);
  }
}

/** Reads snapshots of one OperatorRegistry contract over JSON-RPC; a block's snapshot is cached (it never changes). */
export class ChainRegistrySnapshots implements RegistrySnapshots {
  private readonly client: RegistryChainClient;
  private readonly cache = new Map<number, Promise<OperatorRegistry>>();

  constructor(
    rpcUrl: string,
    private readonly registry: Address,
    private readonly capacity = 256,
  ) {
    this.client = createPublicClient({ transport: http(rpcUrl, { timeout: 10_000 }) });
  }

  async snapshot(address: Address, blockNumber: number): Promise<OperatorRegistry> {
    if (address.toLowerCase() !== this.registry.toLowerCase()) {
      throw new TaskRegistryError(`the task names registry ${address}; this node serves ${this.registry}`);
    }
    let entry = this.cache.get(blockNumber);
    if (!entry) {
      entry = this.read(blockNumber);
      this.cache.set(blockNumber, entry);
      entry.catch(() => this.cache.delete(blockNumber));
      if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    }
    return entry;
  }

  private async read(blockNumber: number): Promise<OperatorRegistry> {
    let head: bigint;
    try {
      head = await this.client.getBlockNumber({ cacheTime: 0 });
    } catch {
      throw new RegistryUnavailableError('the chain head could not be read');
    }
    // A snapshot of a block that is not sealed could still change: never sign under one.
    if (BigInt(blockNumber) > head) throw new TaskRegistryError(`block ${blockNumber} is not sealed yet (head ${head})`);
    return readRegistrySnapshot(this.client, this.registry, blockNumber);
  }
}
