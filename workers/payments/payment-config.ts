import { getAddress, isAddress, type Address } from 'viem';
import { exactEvmRequirements, uptoEvmRequirements } from '../../core/x402';
import type { PaymentRequirements } from '@x402/core/types';
import type { Env } from '../env';
import type { CallPrice } from './call-price';

/** Where and in what priced calls are paid: one token on one EVM chain, settled by a facilitator. */
export interface PaymentConfig {
  chainId: number;
  asset: Address;
  assetName: string;
  assetVersion: string;
  payTo: Address;
  facilitatorUrl: string;
  /** The address the facilitator settles from: `upto` payments name it; without it `upto` is not offered. */
  facilitatorAddress: Address | null;
  /** JSON-RPC endpoint for the balance, allowance and nonce checks every priced call needs before any work. */
  rpcUrl: string;
  maxTimeoutSeconds: number;
  /** How long a settlement may take before its outcome counts as open (the payment goes pending). */
  settleTimeoutMs: number;
  /** EIP-3009 (default) or Permit2 (tokens without EIP-3009), for the `exact` scheme. */
  assetTransferMethod: 'eip3009' | 'permit2';
  /** How long a reservation may stay unresolved (the call still running) before the ledger resolves it against the chain. */
  reservationTtlMs: number;
}

const positive = (raw: string | undefined, fallback: number): number => {
  const n = Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
};

/** The deployment's payment settings, or null when x402 is not configured (priced models then answer 503). */
export function paymentConfig(env: Env): PaymentConfig | null {
  const chainId = Number(env.X402_CHAIN_ID);
  if (!Number.isSafeInteger(chainId) || chainId <= 0 || !env.X402_ASSET || !env.X402_PAY_TO || !env.X402_FACILITATOR_URL || !env.X402_RPC_URL)
    return null;
  if (!isAddress(env.X402_ASSET) || !isAddress(env.X402_PAY_TO)) return null;
  const facilitatorAddress =
    env.X402_FACILITATOR_ADDRESS && isAddress(env.X402_FACILITATOR_ADDRESS) ? getAddress(env.X402_FACILITATOR_ADDRESS) : null;
  return {
    chainId,
    asset: getAddress(env.X402_ASSET),
    assetName: env.X402_ASSET_NAME ?? 'USD Coin',
    assetVersion: env.X402_ASSET_VERSION ?? '2',
    payTo: getAddress(env.X402_PAY_TO),
    facilitatorUrl: env.X402_FACILITATOR_URL.replace(/\/+$/, ''),
    facilitatorAddress,
    rpcUrl: env.X402_RPC_URL,
    maxTimeoutSeconds: positive(env.X402_MAX_TIMEOUT_SECONDS, 300),
    settleTimeoutMs: positive(env.X402_SETTLE_TIMEOUT_MS, 30_000),
    assetTransferMethod: env.X402_ASSET_TRANSFER_METHOD === 'permit2' ? 'permit2' : 'eip3009',
    reservationTtlMs: positive(env.X402_RESERVATION_TTL_MS, 10 * 60_000),
  };
}

/**
 * How long an authorization must stay valid beyond now: room to run the call, settle it, and retry
 * a settlement whose outcome was open, before the chain refuses the authorization as expired.
 */
export function minValiditySeconds(config: PaymentConfig): number {
  return Math.ceil(config.settleTimeoutMs / 1000) + 30;
}

/**
 * The x402 requirements a call is offered under, or null if this deployment cannot take its price. A
 * fixed price: `exact` for the price, and, when the facilitator's address is known, `upto` with the
 * price as its maximum (settled at the price). A metered price: `upto` with the cap as its maximum.
 */
export function offersFor(config: PaymentConfig, price: CallPrice): PaymentRequirements[] | null {
  const common = {
    chainId: config.chainId,
    asset: config.asset,
    payTo: config.payTo,
    amount: BigInt(price.amount),
    maxTimeoutSeconds: config.maxTimeoutSeconds,
    name: config.assetName,
    version: config.assetVersion,
  };
  const upto = config.facilitatorAddress ? [uptoEvmRequirements({ ...common, facilitatorAddress: config.facilitatorAddress })] : [];
  if (price.kind === 'metered') return upto.length > 0 ? upto : null;
  return [exactEvmRequirements({ ...common, assetTransferMethod: config.assetTransferMethod }), ...upto];
}
