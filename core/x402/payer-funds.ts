import { PERMIT2_ADDRESS } from '@x402/evm';
import { createPublicClient, http, parseAbi, type Address, type Hex } from 'viem';
import { ChainUnavailableError } from './errors';
import type { AssetTransferMethod } from './evm-authorization';

const tokenAbi = parseAbi([
  'function balanceOf(address) view returns (uint256)',
  'function allowance(address owner, address spender) view returns (uint256)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
]);
const permit2Abi = parseAbi(['function nonceBitmap(address owner, uint256 wordPos) view returns (uint256)']);

/** Where an authorization's single use lives on chain: the token's EIP-3009 slot, or Permit2's (owner, nonce) bit. */
export type AuthorizationSlot = { method: AssetTransferMethod; asset: Address; payer: Address; nonce: Hex };

/** What the chain says about a payer, read before any work. */
export type PayerFunds = {
  balance: bigint;
  /** What Permit2 may pull from the payer (Permit2 payments only). */
  permit2Allowance: bigint | null;
  /** Whether Permit2 has code on this chain (Permit2 payments only). */
  permit2Deployed: boolean | null;
  /** Whether the authorization's nonce is already consumed (or canceled) on chain. */
  authorizationUsed: boolean;
};

function client(rpcUrl: string) {
  return createPublicClient({ transport: http(rpcUrl, { timeout: 5_000, retryCount: 1, batch: true }) });
}

function chainError(err: unknown): ChainUnavailableError {
  // Only the first line: RPC errors carry URLs and request bodies that must not reach a caller.
  const first = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
  console.warn(`chain read failed: ${first}`);
  return new ChainUnavailableError('the payment chain could not be read; try again shortly');
}

async function slotUsed(c: ReturnType<typeof client>, slot: AuthorizationSlot): Promise<boolean> {
  if (slot.method === 'eip3009') {
    return c.readContract({ address: slot.asset, abi: tokenAbi, functionName: 'authorizationState', args: [slot.payer, slot.nonce] });
  }
  // Permit2's unordered nonces: word nonce >> 8 of the owner's bitmap, bit nonce & 0xff.
  const nonce = BigInt(slot.nonce);
  const word = await c.readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: 'nonceBitmap', args: [slot.payer, nonce >> 8n] });
  return ((word >> (nonce & 0xffn)) & 1n) === 1n;
}

/**
 * Reads, in one batch, the payer's balance, the authorization's nonce state and for Permit2 the
 * allowance and Permit2's code. Throws ChainUnavailableError when the chain cannot be read.
 */
export async function readPayerFunds(rpcUrl: string, slot: AuthorizationSlot): Promise<PayerFunds> {
  const c = client(rpcUrl);
  try {
    const permit2 = slot.method === 'permit2';
    const [balance, permit2Allowance, code] = await Promise.all([
      c.readContract({ address: slot.asset, abi: tokenAbi, functionName: 'balanceOf', args: [slot.payer] }),
      permit2 ? c.readContract({ address: slot.asset, abi: tokenAbi, functionName: 'allowance', args: [slot.payer, PERMIT2_ADDRESS] }) : null,
      permit2 ? c.getCode({ address: PERMIT2_ADDRESS }) : null,
    ]);
    const permit2Deployed = permit2 ? code !== undefined && code !== null && code !== '0x' : null;
    // Without Permit2 its nonce cannot be read; the payment is refused for that reason anyway.
    const authorizationUsed = permit2Deployed === false ? false : await slotUsed(c, slot);
    return { balance, permit2Allowance, permit2Deployed, authorizationUsed };
  } catch (err) {
    throw chainError(err);
  }
}

/**
 * Whether an authorization was consumed on chain, and the latest block's time (unix seconds), so a
 * caller can tell "not yet" from "never": after its deadline an unused authorization cannot settle.
 */
export async function readAuthorizationUse(rpcUrl: string, slot: AuthorizationSlot): Promise<{ used: boolean; chainTime: bigint }> {
  const c = client(rpcUrl);
  try {
    const [used, block] = await Promise.all([slotUsed(c, slot), c.getBlock({ blockTag: 'latest' })]);
    return { used, chainTime: block.timestamp };
  } catch (err) {
    throw chainError(err);
  }
}
