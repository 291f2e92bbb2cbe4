import { toClientEvmSigner } from '@x402/evm';
import { ExactEvmScheme } from '@x402/evm/exact/client';
import { appendPaymentIdentifierToExtensions } from '@x402/extensions/payment-identifier';
import { wrapFetchWithPayment, x402Client } from '@x402/fetch';
import type { Address, LocalAccount } from 'viem';

/** Which payments an agent is willing to make. */
export interface PaidFetchOptions {
  /** CAIP-2 network, e.g. "eip155:31337". */
  network: `${string}:${string}`;
  /** The only token the agent pays with. */
  asset: Address;
  /** x402 payment-identifier: the same id on a retry gets the first answer, not a second charge. */
  paymentId?: string;
  fetch?: typeof fetch;
}

/**
 * A fetch that answers 402s by paying: the official x402 client (`@x402/fetch` with `@x402/evm`'s
 * exact scheme), signing EIP-3009 authorizations with `account`, restricted to one network and asset.
 */
export function paidFetch(account: LocalAccount, opts: PaidFetchOptions): typeof fetch {
  const client = x402Client.fromConfig({
    schemes: [{ network: opts.network, client: new ExactEvmScheme(toClientEvmSigner(account)) }],
    spendControls: { allowedAssets: [{ network: opts.network, asset: opts.asset }] },
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
