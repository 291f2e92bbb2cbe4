import { encodePaymentRequiredHeader, PAYMENT_REQUIRED_CACHE_CONTROL } from '@x402/core/http';
import { PaymentRequiredV2Schema } from '@x402/core/schemas';
import type { PaymentRequired, PaymentRequirements, ResourceInfo } from '@x402/core/types';
import { getAddress, type Address } from 'viem';
import { eip155Network } from './eip155-network';

/** What a route charges: one `exact` EVM payment in an EIP-3009 token. */
export type ExactEvmPrice = {
  chainId: number;
  /** The EIP-3009 token contract. */
  asset: Address;
  payTo: Address;
  /** Price in the token's base units (pgUSD and USDC have 6 decimals). */
  amount: bigint;
  /** How long the client's authorization should stay valid (x402 `maxTimeoutSeconds`). */
  maxTimeoutSeconds: number;
  /** The token's EIP-712 domain name and version, which clients need to sign. */
  name: string;
  version: string;
  /** How tokens move: EIP-3009 (default) or Permit2 through the x402 proxy (tokens without EIP-3009). */
  assetTransferMethod?: 'eip3009' | 'permit2';
};

/** The x402 v2 PaymentRequirements for an exact EVM price (addresses checksummed, amount as a decimal string). */
export function exactEvmRequirements(price: ExactEvmPrice): PaymentRequirements {
  return {
    scheme: 'exact',
    network: eip155Network(price.chainId),
    amount: price.amount.toString(),
    asset: getAddress(price.asset),
    payTo: getAddress(price.payTo),
    maxTimeoutSeconds: price.maxTimeoutSeconds,
    extra: { name: price.name, version: price.version, ...(price.assetTransferMethod === 'permit2' ? { assetTransferMethod: 'permit2' } : {}) },
  };
}

/**
 * The x402 v2 PaymentRequirements of an `upto` EVM payment: the client signs, over Permit2, a maximum
 * (`amount`) that only `facilitatorAddress` may draw from, and is charged what the call cost (≤ it).
 */
export function uptoEvmRequirements(price: Omit<ExactEvmPrice, 'assetTransferMethod'> & { facilitatorAddress: Address }): PaymentRequirements {
  return {
    scheme: 'upto',
    network: eip155Network(price.chainId),
    amount: price.amount.toString(),
    asset: getAddress(price.asset),
    payTo: getAddress(price.payTo),
    maxTimeoutSeconds: price.maxTimeoutSeconds,
    extra: { name: price.name, version: price.version, assetTransferMethod: 'permit2', facilitatorAddress: getAddress(price.facilitatorAddress) },
  };
}

/**
 * The x402 v2 PaymentRequired body of a 402 answer, checked against the official schema so a
 * mistake here fails loudly instead of confusing clients. `error` is the rejection code, if any.
 */
export function paymentRequired(resource: ResourceInfo, accepts: PaymentRequirements[], error?: string): PaymentRequired {
  const body: PaymentRequired = { x402Version: 2, resource, accepts, ...(error === undefined ? {} : { error }) };
  PaymentRequiredV2Schema.parse(body);
  return body;
}

/**
 * Headers of a 402 answer as the official x402 v2 resource server sends them: the PaymentRequired as
 * base64 JSON in `PAYMENT-REQUIRED`, and no caching (each 402 may carry a different error).
 */
export function paymentRequiredHeaders(body: PaymentRequired): Record<string, string> {
  return { 'PAYMENT-REQUIRED': encodePaymentRequiredHeader(body), 'Cache-Control': PAYMENT_REQUIRED_CACHE_CONTROL };
}
