import type { PaymentPayload, PaymentRequirements, SettleResponse } from '@x402/core/types';
import { authorizationTypes, isEIP3009Payload, type ExactEIP3009Payload } from '@x402/evm';
import { getAddress, isAddressEqual, type Address, type Hex, type PublicClient } from 'viem';
import { findAuthorizationUse } from './authorization-ledger';

/** @x402/evm's reason for a nonce that is already consumed on chain (its errors module is not exported). */
export const nonceAlreadyUsedReason = 'invalid_exact_evm_nonce_already_used';

type Settle = (payload: PaymentPayload, requirements: PaymentRequirements) => Promise<SettleResponse>;

/**
 * Wraps a facilitator's settle so that settling the same EIP-3009 authorization twice never pays twice
 * and never reports a paid call as failed: concurrent calls share one settlement, and a retry of an
 * authorization already consumed on chain answers with the transaction that consumed it.
 */
export function idempotentSettle(client: PublicClient, settle: Settle): Settle {
  const inFlight = new Map<string, Promise<SettleResponse>>();
  return (payload, requirements) => {
    const inner = payload.payload as ExactEIP3009Payload | Record<string, unknown>;
    if (!isEIP3009Payload(inner as ExactEIP3009Payload)) return settle(payload, requirements);
    const { authorization, signature } = inner as ExactEIP3009Payload;
    // The signature is part of the key so a forged copy of an in-flight payment never shares its answer.
    const key = `${requirements.network}/${requirements.asset}/${authorization.from}/${authorization.nonce}/${signature}`.toLowerCase();
    const running = inFlight.get(key);
    if (running) return running;
    const settlement = (async () => {
      const earlier = await earlierSettlement(client, payload, requirements);
      if (earlier) return earlier;
      const result = await settle(payload, requirements);
      // Someone else may have submitted the same authorization between our check and our transaction.
      return result.success ? result : ((await earlierSettlement(client, payload, requirements)) ?? result);
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, settlement);
    return settlement;
  };
}

/**
 * If the chain already consumed this authorization, the settle answer for it: success with the original
 * transaction when that transaction moved exactly what this payload authorizes to the required payee
 * and the payload's signature is the payer's; otherwise a failure naming the used nonce.
 */
async function earlierSettlement(
  client: PublicClient,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
): Promise<SettleResponse | undefined> {
  const { authorization, signature } = payload.payload as ExactEIP3009Payload;
  const network = requirements.network;
  let asset: Address;
  let from: Address;
  try {
    asset = getAddress(requirements.asset);
    from = getAddress(authorization.from);
  } catch {
    return undefined;
  }
  if (network !== `eip155:${await client.getChainId()}`) return undefined;
  const use = await findAuthorizationUse(client, asset, from, authorization.nonce);
  if (use.state === 'unused') return undefined;
  const failure: SettleResponse = { success: false, errorReason: nonceAlreadyUsedReason, transaction: '', network, payer: from };
  if (use.state !== 'used' || !use.transfer || !signature) return failure;
  const value = BigInt(authorization.value);
  const matches =
    isAddressEqual(use.transfer.from, from) &&
    isAddressEqual(use.transfer.to, getAddress(authorization.to)) &&
    use.transfer.value === value &&
    isAddressEqual(use.transfer.to, getAddress(requirements.payTo)) &&
    value === BigInt(requirements.amount);
  if (!matches) return failure;
  // Anyone can read a used nonce off the chain; only the payer's signature proves this payload is that payment.
  const extra = requirements.extra as { name?: unknown; version?: unknown };
  if (typeof extra.name !== 'string' || typeof extra.version !== 'string') return failure;
  const signed = await client.verifyTypedData({
    address: from,
    domain: { name: extra.name, version: extra.version, chainId: await client.getChainId(), verifyingContract: asset },
    types: authorizationTypes,
    primaryType: 'TransferWithAuthorization',
    message: {
      from,
      to: getAddress(authorization.to),
      value,
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
      nonce: authorization.nonce,
    },
    signature: signature as Hex,
  });
  if (!signed) return failure;
  return { success: true, transaction: use.transaction, network, payer: from, amount: value.toString() };
}
