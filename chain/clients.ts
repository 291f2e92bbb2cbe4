import {
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type Chain,
  type Hex,
  type PublicClient,
  type WalletClient,
  type Account,
  type Transport,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

/** A viem chain description for a local (anvil) node. */
export function localChain(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: `local-${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Public and wallet clients bound to one account on one local node. */
export type ChainClients = {
  chain: Chain;
  account: Account;
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
};

/** Connects to a node, learning its chain id from the node itself. */
export async function connect(rpcUrl: string, privateKey: Hex): Promise<ChainClients> {
  const probe = createPublicClient({ transport: http(rpcUrl) });
  const chain = localChain(await probe.getChainId(), rpcUrl);
  const account = privateKeyToAccount(privateKey);
  const transport = http(rpcUrl);
  return {
    chain,
    account,
    publicClient: createPublicClient({ chain, transport }),
    walletClient: createWalletClient({ chain, transport, account }),
  };
}
