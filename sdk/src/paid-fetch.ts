import { toClientEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { UptoEvmScheme } from '@x402/evm/upto/client';
import { appendPaymentIdentifierToExtensions } from '@x402/extensions/payment-identifier';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import type { Address, LocalAccount } from 'viem';

/** Which payments an agent is willing to make. */
export interface PaidFetchOptions {
  /** CAIP-2 network, e.g. "eip155:31337". */
  network: `${string}:${string}`;
  /** The only token the agent pays with (a token x402 does not know by default must be named to be payable at all). */
  asset: Address;
  /** Most the agent pays for one call, in the token's smallest units (the official client's spend control); omitted: uncapped. */
  maxAmountPerPayment?: string;
  /** x402 payment-identifier: the same id on a retry gets the first answer, not a second charge. */
  paymentId?: string;
  /**
   * How to pay: `exact` (the price, EIP-3009 or Permit2 as the server asks) or `upto` (a Permit2
   * maximum, charged what the call cost; the payer must have approved Permit2 for the token). Default exact.
   */
  scheme?: 'exact' | 'upto';
  fetch?: typeof fetch;
}

/**
 * A fetch that answers 402s by paying: the official x402 client (`@x402/fetch` with `@x402/evm`'s
 * exact or upto scheme), signing with `account`, restricted by its spend controls to one network
 * and asset and, when given, to `maxAmountPerPayment`.
 */
export function paidFetch(account: LocalAccount, opts: PaidFetchOptions): typeof fetch {
  const signer = toClientEvmSigner(account);
  const client = x402Client.fromConfig({
    schemes: [{ network: opts.network, client: opts.scheme === 'upto' ? new UptoEvmScheme(signer) : new ExactEvmScheme(signer) }],
    spendControls: {
      allowedAssets: [
        {
          network: opts.network,
          asset: opts.asset,
          ...(opts.maxAmountPerPayment !== undefined ? { maxAmountPerPayment: opts.maxAmountPerPayment } : {}),
        },
      ],
    },
  });
  if (opts.paymentId) {
    const id = opts.paymentId;
    client.onBeforePaymentCreation(async ({ paymentRequired }) => {
      paymentRequired.extensions ??= {};
      appendPaymentIdentifierToExtensions(paymentRequired.extensions, id);
    });
  }
  return wrapFetchWithPayment(opts.fetch ?? fetch, client) as typeof fetch;
}
