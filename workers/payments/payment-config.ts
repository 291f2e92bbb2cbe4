import { getAddress, isAddress, type Address } from 'viem';
import { exactEvmRequirements } from '../../core/x402';
import type { PaymentRequirements } from '@x402/core/types';
import type { Env } from '../env';

/** Where and in what priced calls are paid: one EIP-3009 token on one EVM chain, settled by a facilitator. */
export interface PaymentConfig {
  chainId: number;
  asset: Address;
  assetName: string;
  assetVersion: string;
  payTo: Address;
  facilitatorUrl: string;
  /** JSON-RPC endpoint for balance and nonce checks at the edge; checks are skipped without one. */
  rpcUrl: string | null;
  maxTimeoutSeconds: number;
  /** How long a settlement may take before its outcome counts as open (the payment goes pending). */
  settleTimeoutMs: number;
  /** EIP-3009 (default) or Permit2, for tokens without EIP-3009; Permit2 needs its contracts on the chain. */
  assetTransferMethod: 'eip3009' | 'permit2';
}

/** The deployment's payment settings, or null when x402 is not configured (priced models then answer 503). */
export function paymentConfig(env: Env): PaymentConfig | null {
  const chainId = Number(env.X402_CHAIN_ID);
  if (!Number.isSafeInteger(chainId) || chainId <= 0 || !env.X402_ASSET || !env.X402_PAY_TO || !env.X402_FACILITATOR_URL) return null;
  if (!isAddress(env.X402_ASSET) || !isAddress(env.X402_PAY_TO)) return null;
  return {
    chainId,
    asset: getAddress(env.X402_ASSET),
    assetName: env.X402_ASSET_NAME ?? 'USD Coin',
    assetVersion: env.X402_ASSET_VERSION ?? '2',
    payTo: getAddress(env.X402_PAY_TO),
    facilitatorUrl: env.X402_FACILITATOR_URL.replace(/\/+$/, ''),
    rpcUrl: env.X402_RPC_URL || null,
    maxTimeoutSeconds: Number(env.X402_MAX_TIMEOUT_SECONDS) || 300,
    settleTimeoutMs: Number(env.X402_SETTLE_TIMEOUT_MS) || 30_000,
    assetTransferMethod: env.X402_ASSET_TRANSFER_METHOD === 'permit2' ? 'permit2' : 'eip3009',
  };
}

/** The x402 requirements of one call at `amount` atomic units. */
export function requirementsFor(config: PaymentConfig, amount: string): PaymentRequirements {
  return exactEvmRequirements({
    chainId: config.chainId,
    asset: config.asset,
    payTo: config.payTo,
    amount: BigInt(amount),
    maxTimeoutSeconds: config.maxTimeoutSeconds,
    name: config.assetName,
    version: config.assetVersion,
    assetTransferMethod: config.assetTransferMethod,
  });
}
