import type { PaymentPayload, PaymentPayloadV1, PaymentRequirements } from '@x402/core/types';
import { getAddress, isAddressEqual, recoverTypedDataAddress, toHex, type Address, type Hex } from 'viem';
import { chainIdOfNetwork } from './eip155-network';
import {
  AssetMismatchError,
  AuthorizationExpiredError,
  AuthorizationNotYetValidError,
  InvalidPaymentSignatureError,
  NetworkMismatchError,
  RecipientMismatchError,
  UnsupportedSchemeError,
} from './errors';
import type { DecodedPayment } from './payment-header';

// What the `exact` and `upto` EVM schemes share at the edge: the terms check, the validity window,
// the canonical-signature check and the single-use keys of EIP-3009 and Permit2 authorizations.

// secp256k1 group order / 2: signatures with a larger s are the malleable twin that EIP-2 and the
// token contract refuse, so the edge must refuse them too or it would serve work that cannot settle.
const secp256k1HalfOrder = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** The official facilitator refuses authorizations that expire within 6 s (time to mine); so does the edge by default. */
export const defaultMinValiditySeconds = 6;

/** The x402 schemes the edge verifies: a fixed amount (`exact`) or a signed maximum settled after the call (`upto`). */
export type EvmScheme = 'exact' | 'upto';

/** How the payer's tokens move: EIP-3009 `transferWithAuthorization`, or Permit2 through an x402 proxy. */
export type AssetTransferMethod = 'eip3009' | 'permit2';

/** A transfer authorization with its numbers parsed (EIP-3009's fields; Permit2's mapped onto them: deadline as validBefore, the witness's recipient and validAfter). */
export type TransferAuthorization = {
  from: Address;
  to: Address;
  /** What the payer signed: the exact amount, or the maximum of an `upto` payment. */
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
};

/** A payment that passed every offline check; what the gateway reserves, forwards and records. */
export type VerifiedEvmPayment = {
  scheme: EvmScheme;
  method: AssetTransferMethod;
  payer: Address;
  authorization: TransferAuthorization;
  signature: Hex;
  /** The server's requirements the payment was checked against (send these to the facilitator). */
  requirements: PaymentRequirements;
  /** The payload as the client sent it. */
  paymentPayload: PaymentPayload | PaymentPayloadV1;
  /** Unique per authorization on chain: reserve it once (nonce Durable Object) before any work. */
  nonceKey: string;
};

/** Inputs of the verifiers. `now` is unix seconds, passed in so the check is deterministic. */
export type VerifyEvmInput = {
  payment: DecodedPayment;
  requirements: PaymentRequirements;
  now: number | bigint;
  minValiditySeconds?: number;
};

/** A payload reduced to what the common checks need, with the EIP-712 typed data its signature covers. */
export type ParsedTransfer = {
  method: AssetTransferMethod;
  authorization: TransferAuthorization;
  signature: Hex;
  typedData: Omit<Parameters<typeof recoverTypedDataAddress>[0], 'signature'>;
  nonceKey: string;
};

/** The key under which an authorization's single use is recorded: the token contract's own (authorizer, nonce) slot. */
export function authorizationNonceKey(chainId: number, asset: Address, from: Address, nonce: Hex): string {
  return `eip155:${chainId}/${asset.toLowerCase()}/${from.toLowerCase()}/${nonce.toLowerCase()}`;
}

/** The key under which a Permit2 signature's single use is recorded: Permit2's own (owner, nonce) slot, shared by all tokens and both schemes. */
export function permit2NonceKey(chainId: number, owner: Address, nonce: bigint): string {
  return `eip155:${chainId}/permit2/${owner.toLowerCase()}/${toHex(nonce, { size: 32 })}`;
}

/** Address equality that treats anything unparseable as different. */
export function sameAddress(a: string, b: string): boolean {
  try {
    return isAddressEqual(getAddress(a), getAddress(b));
  } catch {
    return false;
  }
}

/** Checks the client's stated terms against the server's: scheme and network always, asset and recipient where v2 states them. */
export function checkTerms(payment: DecodedPayment, requirements: PaymentRequirements, scheme: EvmScheme): void {
  if (payment.scheme !== scheme || requirements.scheme !== scheme) {
    throw new UnsupportedSchemeError(`scheme ${JSON.stringify(payment.scheme)} is not accepted here; use "${requirements.scheme}"`);
  }
  const requiredChainId = chainIdOfNetwork(requirements.network);
  if (requiredChainId === undefined || chainIdOfNetwork(payment.network) !== requiredChainId) {
    throw new NetworkMismatchError(`payment is for network ${payment.network}, required ${requirements.network}`);
  }
  const accepted = payment.accepted;
  if (!accepted) return;
  if (!sameAddress(accepted.asset, requirements.asset)) {
    throw new AssetMismatchError(`payment is in asset ${accepted.asset}, required ${requirements.asset}`);
  }
  if (!sameAddress(accepted.payTo, requirements.payTo)) {
    throw new RecipientMismatchError(`payment accepted payTo ${accepted.payTo}, required ${requirements.payTo}`);
  }
}

/**
 * The checks every verified payment passes after its amount: the recipient, the validity window
 * (with room to settle) and a canonical 65-byte ECDSA signature by the payer over the typed data.
 */
export async function checkTransfer(transfer: ParsedTransfer, input: VerifyEvmInput): Promise<void> {
  const { authorization, signature } = transfer;
  if (!sameAddress(authorization.to, input.requirements.payTo)) {
    throw new RecipientMismatchError(`authorization pays ${authorization.to}, required ${input.requirements.payTo}`);
  }
  const now = BigInt(input.now);
  if (authorization.validAfter > now) {
    throw new AuthorizationNotYetValidError(`authorization is valid only after ${authorization.validAfter}`);
  }
  const minValidity = BigInt(input.minValiditySeconds ?? defaultMinValiditySeconds);
  if (authorization.validBefore <= now + minValidity) {
    throw new AuthorizationExpiredError(`authorization expires at ${authorization.validBefore} (needs > ${now + minValidity})`);
  }
  // 65-byte ECDSA only: smart-wallet (ERC-1271/6492) signatures need the chain and cannot be checked at the edge.
  if (signature.length !== 132) {
    throw new InvalidPaymentSignatureError('signature must be a 65-byte ECDSA signature');
  }
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  if (s > secp256k1HalfOrder || (v !== 27 && v !== 28)) {
    throw new InvalidPaymentSignatureError('signature is not in canonical form (low s, v = 27 or 28)');
  }
  let signer: Address;
  try {
    signer = await recoverTypedDataAddress({ ...transfer.typedData, signature } as Parameters<typeof recoverTypedDataAddress>[0]);
  } catch {
    throw new InvalidPaymentSignatureError('signature does not recover to any address');
  }
  if (!isAddressEqual(signer, authorization.from)) {
    throw new InvalidPaymentSignatureError(`signature is by ${signer}, not by the payer ${authorization.from}`);
  }
}
