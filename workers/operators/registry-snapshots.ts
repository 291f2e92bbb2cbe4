/**
 * The gateway's view of the OperatorRegistry contract: the snapshot a new task is judged under (the
 * latest block), and the snapshot an attestation names (its registry and block), read from chain
 * and cached per isolate. A past block's snapshot never changes, so the cache needs no expiry.
 */
import { createPublicClient, getAddress, http, isAddress, type Address } from 'viem';
import { readLatestRegistrySnapshot, readRegistrySnapshot, RegistryUnavailableError, type OperatorRegistry } from '../../core/attestation';

/** The Worker settings that name the registry (see env.ts). */
export interface RegistrySettings {
  OPERATOR_REGISTRY_ADDRESS?: string;
  OPERATOR_REGISTRY_RPC_URL?: string;
}

/** The registry this gateway serves, and a client of its chain. */
export interface OperatorRegistryChain {
  address: Address;
  chainId: () => Promise<number>;
  latest: () => Promise<OperatorRegistry>;
  /** The snapshot of `address` at `blockNumber`; null for a registry this gateway does not serve or a block the chain has not sealed. */
  at: (address: Address, blockNumber: number) => Promise<OperatorRegistry | null>;
}

const MAX_CACHED_SNAPSHOTS = 256;
const snapshots = new Map<string, Promise<OperatorRegistry>>();
const chains = new Map<string, OperatorRegistryChain>();

/** The registry named by the Worker's settings; throws 503 `registry_unavailable` when none is configured. */
export function operatorRegistryChain(env: RegistrySettings): OperatorRegistryChain {
  const chain = configuredRegistryChain(env);
  if (!chain) throw new RegistryUnavailableError('no operator registry is configured (OPERATOR_REGISTRY_ADDRESS, OPERATOR_REGISTRY_RPC_URL)');
  return chain;
}

/** The registry named by the Worker's settings, or null when none is configured. */
export function configuredRegistryChain(env: RegistrySettings): OperatorRegistryChain | null {
  const address = env.OPERATOR_REGISTRY_ADDRESS;
  const rpcUrl = env.OPERATOR_REGISTRY_RPC_URL;
  if (!address || !rpcUrl || !isAddress(address, { strict: false })) return null;
  const key = `${rpcUrl} ${address.toLowerCase()}`;
  let chain = chains.get(key);
  if (!chain) {
    chain = makeChain(getAddress(address), rpcUrl);
    chains.set(key, chain);
  }
  return chain;
}

function makeChain(registry: Address, rpcUrl: string): OperatorRegistryChain {
  const client = createPublicClient({ transport: http(rpcUrl, { timeout: 10_000, retryCount: 1 }) });
  let chainId: Promise<number> | undefined;
  const cached = (blockNumber: number, read: () => Promise<OperatorRegistry>): Promise<OperatorRegistry> => {
    const key = `${registry.toLowerCase()}@${blockNumber}`;
    let entry = snapshots.get(key);
    if (!entry) {
      entry = read();
      snapshots.set(key, entry);
      entry.catch(() => snapshots.delete(key));
      if (snapshots.size > MAX_CACHED_SNAPSHOTS) snapshots.delete(snapshots.keys().next().value!);
    }
    return entry;
  };
  return {
    address: registry,
    chainId: () => {
      chainId ??= client.getChainId().catch(() => {
        chainId = undefined;
        throw new RegistryUnavailableError("the operator registry's chain could not be reached");
      });
      return chainId;
    },
    latest: async () => {
      const snapshot = await readLatestRegistrySnapshot(client, registry);
      return cached(snapshot.blockNumber, async () => snapshot);
    },
    at: async (address, blockNumber) => {
      if (address.toLowerCase() !== registry.toLowerCase()) return null;
      try {
        return await cached(blockNumber, async () => {
          const head = await client.getBlockNumber({ cacheTime: 0 }).catch(() => {
            throw new RegistryUnavailableError('the chain head could not be read');
          });
          if (BigInt(blockNumber) > head) throw new UnsealedBlock();
          return readRegistrySnapshot(client, registry, blockNumber);
        });
      } catch (err) {
        if (err instanceof UnsealedBlock) return null;
        throw err;
      }
    },
  };
}

/** A block after the chain's head: no snapshot exists yet (and none is cached). */
class UnsealedBlock extends Error {}
