import type { PriceTerms } from '../../core/receipts';
import { getLatestTerms, type LatestTerms } from '../hub/model-store';

/** What one call to a model costs now, as its publisher last said (the latest version's terms, whatever version is called). */
export interface CallPrice {
  /**
   * `fixed`: every call is charged `amount`. `metered`: the charge is decided after the run, at most
   * `amount` (the cap), and paid with x402 `upto` only.
   */
  kind: 'fixed' | 'metered';
  /** Atomic units of the payment asset, decimal: the price, or a metered call's cap. "0" is free. */
  amount: string;
  /** When the payment settles: before the result is returned (`sync`) or after it (`async`). */
  settlement: 'sync' | 'async';
  /**
   * The terms the backend applies to the call's run time to sign its charge (core/receipts
   * receiptCharge): `{amount, 0, amount}` for a fixed price, `{base, ratePerMs, cap}` when metered.
   */
  terms: PriceTerms;
}

/** The price of calls under a model version's terms. */
export function priceOf(latest: LatestTerms): CallPrice {
  if (latest.pricing === 'metered') {
    return {
      kind: 'metered',
      amount: latest.price,
      settlement: latest.settlement,
      terms: { priceBase: latest.base, pricePerMs: latest.ratePerMs, priceCap: latest.price },
    };
  }
  return {
    kind: 'fixed',
    amount: latest.price,
    settlement: latest.settlement,
    terms: { priceBase: latest.price, pricePerMs: '0', priceCap: latest.price },
  };
}

/**
 * The price of a call to the model named `name`: the publisher's current terms, read from D1's
 * latest version on every call (never from a cache), so no `?version=` (or any other part of the
 * request) buys a call for less than the price now. The inference call reads it together with the
 * model version it runs.
 */
export async function currentPrice(db: D1Database, name: string): Promise<CallPrice> {
  return priceOf(await getLatestTerms(db, name));
}
