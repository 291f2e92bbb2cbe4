import { EVM_NETWORK_CHAIN_ID_MAP } from '@x402/evm/v1';
import type { Network } from '@x402/core/types';

/** The CAIP-2 id of an EVM chain, as x402 v2 writes networks (`eip155:<chainId>`). */
export function eip155Network(chainId: number): Network {
  return `eip155:${chainId}`;
}

/**
 * The chain id behind an x402 network name: CAIP-2 `eip155:<id>` (v2) or a legacy v1 name such as
 * `base-sepolia`. Returns undefined for anything else (non-EVM or unknown).
 */
export function chainIdOfNetwork(network: string): number | undefined {
  const caip2 = /^eip155:([1-9][0-9]{0,15})$/.exec(network);
  if (caip2) {
    const id = Number(caip2[1]);
    return Number.isSafeInteger(id) ? id : undefined;
  }
  return (EVM_NETWORK_CHAIN_ID_MAP as Record<string, number>)[network];
}
