import type { FacilitatorEvmSigner } from '@x402/evm';
import { toFacilitatorEvmSigner } from '@x402/evm';
import type { ChainClients } from '../chain/clients';

/**
 * Adapts viem clients to the signer interface @x402/evm's facilitator scheme expects: reads and
 * signature checks go through the public client, writes are signed by the facilitator's key.
 */
export function facilitatorEvmSigner({ account, publicClient, walletClient }: ChainClients): FacilitatorEvmSigner {
  return toFacilitatorEvmSigner({
    address: account.address,
    readContract: (args) => publicClient.readContract(args as never),
    verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
    writeContract: (args) => walletClient.writeContract(args as never),
    sendTransaction: (args) => walletClient.sendTransaction(args),
    waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt({ ...args, pollingInterval: 100 }),
    getCode: (args) => publicClient.getCode(args),
  });
}
