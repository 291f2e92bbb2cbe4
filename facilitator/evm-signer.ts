import { AsyncLocalStorage } from 'node:async_hooks';
import type { FacilitatorEvmSigner } from '@x402/evm';
import { toFacilitatorEvmSigner } from '@x402/evm';
import { concat, encodeFunctionData, keccak256, type Abi, type Hex } from 'viem';
import type { ChainClients } from '../chain/clients';

/**
 * The transactions a settlement signed, each noted before it is sent: if sending fails, the
 * transaction may still have reached the chain, and the settlement's outcome is open, not refused.
 */
export const settlementBroadcasts = new AsyncLocalStorage<Hex[]>();

/**
 * Adapts viem clients to the signer interface @x402/evm's facilitator schemes expect. Reads are
 * eth_calls from the facilitator's own address (the upto proxy lets only the facilitator named in the
 * witness settle, and verification simulates that call); writes are signed by the facilitator's key,
 * with each transaction's hash noted (settlementBroadcasts) before it is broadcast.
 */
export function facilitatorEvmSigner({ account, chain, publicClient, walletClient }: ChainClients): FacilitatorEvmSigner {
  const broadcast = async (tx: { to: Hex; data: Hex; gas?: bigint }): Promise<Hex> => {
    const request = await walletClient.prepareTransactionRequest({ account, chain, to: tx.to, data: tx.data, ...(tx.gas ? { gas: tx.gas } : {}) });
    const serializedTransaction = await walletClient.signTransaction(request as never);
    settlementBroadcasts.getStore()?.push(keccak256(serializedTransaction));
    return walletClient.sendRawTransaction({ serializedTransaction });
  };
  return toFacilitatorEvmSigner({
    address: account.address,
    readContract: (args) => publicClient.readContract({ ...args, account } as never),
    verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
    writeContract: ({ address, abi, functionName, args, gas, dataSuffix }) =>
      broadcast({
        to: address,
        data: concat([encodeFunctionData({ abi: abi as Abi, functionName, args } as never), dataSuffix ?? '0x']),
        ...(gas === undefined ? {} : { gas }),
      }),
    sendTransaction: (args) => broadcast(args),
    waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt({ ...args, pollingInterval: 100 }),
    getCode: (args) => publicClient.getCode(args),
  });
}
