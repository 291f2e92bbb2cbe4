import type { PaymentPayload, PaymentRequirements, SettleResponse } from '@x402/core/types';
import {
  PERMIT2_ADDRESS,
  authorizationTypes,
  isEIP3009Payload,
  isPermit2Payload,
  permit2WitnessTypes,
  uptoPermit2WitnessTypes,
  x402ExactPermit2ProxyABI,
  x402ExactPermit2ProxyAddress,
  x402UptoPermit2ProxyABI,
  x402UptoPermit2ProxyAddress,
  type ExactEIP3009Payload,
} from '@x402/evm';
import { decodeFunctionData, getAddress, isAddressEqual, parseAbi, type Address, type Hex, type PublicClient } from 'viem';
import { settlementPendingReason } from '../core/x402';
import { findAuthorizationUse } from './authorization-ledger';
import { settlementBroadcasts } from './evm-signer';

/** @x402/evm's reason for a nonce that is already consumed on chain (its errors module is not exported). */
export const nonceAlreadyUsedReason = 'invalid_exact_evm_nonce_already_used';

type Settle = (payload: PaymentPayload, requirements: PaymentRequirements) => Promise<SettleResponse>;

type Permit2Authorization = {
  from: string;
  permitted: { token: string; amount: string };
  spender: string;
  nonce: string;
  deadline: string;
  witness: { to: string; facilitator?: string; validAfter: string };
};

const permit2Abi = parseAbi(['function nonceBitmap(address owner, uint256 wordPos) view returns (uint256)']);
const transferEvent = parseAbi(['event Transfer(address indexed from, address indexed to, uint256 value)'])[0];

/** The on-chain slot a payload's single use lives in, or undefined for payloads this wrapper does not know. */
function slotKey(payload: PaymentPayload, requirements: PaymentRequirements): string | undefined {
  const inner = payload.payload as Record<string, unknown>;
  if (isEIP3009Payload(inner as never)) {
    const { authorization, signature } = inner as ExactEIP3009Payload;
    return `${requirements.network}/${requirements.asset}/${authorization.from}/${authorization.nonce}/${signature}`.toLowerCase();
  }
  if (isPermit2Payload(inner as never)) {
    const { permit2Authorization: a, signature } = inner as { permit2Authorization: Permit2Authorization; signature: string };
    return `${requirements.network}/permit2/${a.from}/${a.nonce}/${signature}`.toLowerCase();
  }
  return undefined;
}

/**
 * Runs one settlement noting the transactions it signs. The official schemes answer a transaction that
 * could not be sent with `success: false` and no transaction; but a send that failed may still have
 * reached the chain, so such an answer becomes `settlement_pending` with the transaction: an open
 * outcome the caller resolves against the chain, never a refusal.
 */
async function settleNoting(settle: Settle, payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse> {
  const signed: Hex[] = [];
  const result = await settlementBroadcasts.run(signed, () => settle(payload, requirements));
  const last = signed.at(-1);
  if (!result.success && !result.transaction && last) return { ...result, errorReason: settlementPendingReason, transaction: last };
  return result;
}

/**
 * Wraps a facilitator's settle so that settling the same authorization twice (EIP-3009, or Permit2 for
 * `exact` and `upto`) never pays twice and never reports a paid call as failed: concurrent calls share
 * one settlement, and a retry of an authorization already consumed on chain answers with the
 * transaction that consumed it.
 */
export function idempotentSettle(client: PublicClient, settle: Settle): Settle {
  const inFlight = new Map<string, Promise<SettleResponse>>();
  return (payload, requirements) => {
    const key = slotKey(payload, requirements);
    if (!key) return settleNoting(settle, payload, requirements);
    const running = inFlight.get(key);
    if (running) return running;
    const settlement = (async () => {
      const earlier = await earlierSettlement(client, payload, requirements);
      if (earlier) return earlier;
      const result = await settleNoting(settle, payload, requirements);
      // Someone else may have submitted the same authorization between our check and our transaction.
      return result.success ? result : ((await earlierSettlement(client, payload, requirements)) ?? result);
    })().finally(() => inFlight.delete(key));
    inFlight.set(key, settlement);
    return settlement;
  };
}

/**
 * If the chain already consumed this authorization, the settle answer for it: success with the original
 * transaction when that transaction moved exactly what is to be charged to the required payee and the
 * payload's signature is the payer's; otherwise a failure naming the used nonce.
 */
async function earlierSettlement(
  client: PublicClient,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
): Promise<SettleResponse | undefined> {
  if (requirements.network !== `eip155:${await client.getChainId()}`) return undefined;
  const inner = payload.payload as Record<string, unknown>;
  return isPermit2Payload(inner as never)
    ? earlierPermit2Settlement(client, payload, requirements)
    : earlierEip3009Settlement(client, payload, requirements);
}

async function earlierEip3009Settlement(
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

// Permit2 spends an unordered nonce in bit `nonce & 0xff` of word `nonce >> 8` of the owner's bitmap
// and emits no event for it; the transaction that spent it is found through the token's Transfer from
// the owner to the payee, in a call to the x402 proxy whose permit carries this nonce. (The scan is
// over the whole chain: fine for the local chain this facilitator serves.)
async function earlierPermit2Settlement(
  client: PublicClient,
  payload: PaymentPayload,
  requirements: PaymentRequirements,
): Promise<SettleResponse | undefined> {
  const { permit2Authorization: a, signature } = payload.payload as { permit2Authorization: Permit2Authorization; signature: Hex };
  const network = requirements.network;
  let owner: Address;
  let asset: Address;
  let payTo: Address;
  let nonce: bigint;
  try {
    owner = getAddress(a.from);
    asset = getAddress(requirements.asset);
    payTo = getAddress(requirements.payTo);
    nonce = BigInt(a.nonce);
  } catch {
    return undefined;
  }
  const word = await client.readContract({ address: PERMIT2_ADDRESS, abi: permit2Abi, functionName: 'nonceBitmap', args: [owner, nonce >> 8n] });
  if (((word >> (nonce & 0xffn)) & 1n) === 0n) return undefined;
  const failure: SettleResponse = { success: false, errorReason: nonceAlreadyUsedReason, transaction: '', network, payer: owner };

  const upto = requirements.scheme === 'upto';
  const proxy = upto ? x402UptoPermit2ProxyAddress : x402ExactPermit2ProxyAddress;
  const abi = upto ? x402UptoPermit2ProxyABI : x402ExactPermit2ProxyABI;
  const amount = BigInt(requirements.amount);
  const transfers = await client.getLogs({
    address: asset,
    event: transferEvent,
    args: { from: owner, to: payTo },
    fromBlock: 'earliest',
    toBlock: 'latest',
  });
  let transaction: Hex | undefined;
  for (const log of transfers.reverse()) {
    if (log.args.value !== amount) continue;
    const tx = await client.getTransaction({ hash: log.transactionHash });
    if (!tx.to || !isAddressEqual(tx.to, proxy)) continue;
    let args: readonly unknown[];
    try {
      args = decodeFunctionData({ abi, data: tx.input }).args ?? [];
    } catch {
      continue;
    }
    const permit = args.find((x): x is { nonce: bigint } => typeof x === 'object' && x !== null && 'permitted' in x);
    const from = args.find((x): x is string => typeof x === 'string' && x.length === 42);
    if (permit?.nonce === nonce && from && isAddressEqual(getAddress(from), owner)) {
      transaction = log.transactionHash;
      break;
    }
  }
  if (!transaction) return failure;
  // Only the owner's signature over this permit proves this payload is the payment that transfer settled.
  const witness = upto
    ? { to: getAddress(a.witness.to), facilitator: getAddress(a.witness.facilitator ?? '0x'), validAfter: BigInt(a.witness.validAfter) }
    : { to: getAddress(a.witness.to), validAfter: BigInt(a.witness.validAfter) };
  let signed = false;
  try {
    signed = await client.verifyTypedData({
      address: owner,
      domain: { name: 'Permit2', chainId: await client.getChainId(), verifyingContract: PERMIT2_ADDRESS },
      types: upto ? uptoPermit2WitnessTypes : permit2WitnessTypes,
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: getAddress(a.permitted.token), amount: BigInt(a.permitted.amount) },
        spender: getAddress(a.spender),
        nonce,
        deadline: BigInt(a.deadline),
        witness,
      },
      signature,
    } as never);
  } catch {
    return failure;
  }
  if (!signed || !isAddressEqual(getAddress(a.witness.to), payTo)) return failure;
  return { success: true, transaction, network, payer: owner, amount: amount.toString() };
}
