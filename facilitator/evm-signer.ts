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
  // One account signs every settlement. Built concurrently, two transactions read the same pending
  // nonce: one is refused, or replaces the other in the pool, whose settlement then waits for a
  // receipt that never comes. So transactions are built and sent one at a time (sending returns once
  // the node has the transaction; receipts are still awaited concurrently). viem's nonceManager would
  // hand out nonces without the wait, but a transaction that then fails to send leaves a gap that
  // stalls every later one.
  let sending: Promise<unknown> = Promise.resolve();
  const broadcast = (tx: { to: Hex; data: Hex; gas?: bigint }): Promise<Hex> => {
    const sent = sending.then(async () => {
      const request = await walletClient.prepareTransactionRequest({ account, chain, to: tx.to, data: tx.data, ...(tx.gas ? { gas: tx.gas } : {}) });
      const serializedTransaction = await walletClient.signTransaction(request as never);
      settlementBroadcasts.getStore()?.push(keccak256(serializedTransaction));
      return walletClient.sendRawTransaction({ serializedTransaction });
    });
    sending = sent.catch(() => undefined);
    return sent;
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
