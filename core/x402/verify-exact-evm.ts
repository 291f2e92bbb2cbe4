import type { PaymentPayload, PaymentPayloadV1, PaymentRequirements } from '@x402/core/types';
import {
  PERMIT2_ADDRESS,
  authorizationTypes,
  isPermit2Payload,
  permit2WitnessTypes,
  x402ExactPermit2ProxyAddress,
  type ExactEIP3009Payload,
} from '@x402/evm';
import { getAddress, isAddressEqual, recoverTypedDataAddress, toHex, type Address, type Hex } from 'viem';
import { z } from 'zod';
import { chainIdOfNetwork } from './eip155-network';
import {
  AmountMismatchError,
  AssetMismatchError,
  AuthorizationExpiredError,
  AuthorizationNotYetValidError,
  InsufficientAmountError,
  InvalidPaymentPayloadError,
  InvalidPaymentSignatureError,
  NetworkMismatchError,
  RecipientMismatchError,
  UnsupportedSchemeError,
} from './errors';
import type { DecodedPayment } from './payment-header';
import { hexBytesPattern } from '../hex';

// @x402/evm ships the EIP-3009 payload only as a TypeScript type plus an `"authorization" in p` guard,
// so the edge validates the untrusted shape itself before touching any field.
const uintString = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'a non-negative decimal integer');
const addressString = z.string().regex(hexBytesPattern(20), 'a 20-byte hex address');
const eip3009PayloadSchema = z.object({
  signature: z.string().regex(/^0x([0-9a-fA-F]{2})+$/, 'hex bytes'),
  authorization: z.object({
    from: addressString,
    to: addressString,
    value: uintString,
    validAfter: uintString,
    validBefore: uintString,
    nonce: z.string().regex(hexBytesPattern(32), 'a 32-byte hex nonce'),
  }),
});

// secp256k1 group order / 2: signatures with a larger s are the malleable twin that EIP-2 and the
// token contract refuse, so the edge must refuse them too or it would serve work that cannot settle.
const secp256k1HalfOrder = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** The official facilitator refuses authorizations that expire within 6 s (time to mine); so does the edge by default. */
export const defaultMinValiditySeconds = 6;

/** A transfer authorization with its numbers parsed (EIP-3009's fields; Permit2's mapped onto them: deadline as validBefore, the witness's recipient and validAfter). */
export type TransferAuthorization = {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
};

/** A payment that passed every offline check; what the gateway reserves, forwards and records. */
export type VerifiedExactEvmPayment = {
  method: AssetTransferMethod;
  payer: Address;
  authorization: TransferAuthorization;
  signature: Hex;
  /** The server's requirements the payment was checked against (send these to the facilitator). */
  requirements: PaymentRequirements;
  /** The payload exactly as the client sent it (send this to the facilitator). */
  paymentPayload: PaymentPayload | PaymentPayloadV1;
  /** Unique per authorization on chain: reserve it once (nonce Durable Object) before any work. */
  nonceKey: string;
};

/** Inputs of verifyExactEvmPayment. `now` is unix seconds, passed in so the check is deterministic. */
export type VerifyExactEvmInput = {
  payment: DecodedPayment;
  requirements: PaymentRequirements;
  now: number | bigint;
  minValiditySeconds?: number;
};

/** The key under which an authorization's single use is recorded: the token contract's own (authorizer, nonce) slot. */
export function authorizationNonceKey(chainId: number, asset: Address, from: Address, nonce: Hex): string {
  return `eip155:${chainId}/${asset.toLowerCase()}/${from.toLowerCase()}/${nonce.toLowerCase()}`;
}

function sameAddress(a: string, b: string): boolean {
  try {
    return isAddressEqual(getAddress(a), getAddress(b));
  } catch {
    return false;
  }
}

/** Checks the client's stated `accepted` terms (v2) against the server's; v1 carries only scheme and network. */
function checkTerms(payment: DecodedPayment, requirements: PaymentRequirements): void {
  if (payment.scheme !== 'exact' || requirements.scheme !== 'exact') {
    throw new UnsupportedSchemeError(`scheme ${JSON.stringify(payment.scheme)} is not accepted; use "exact"`);
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

const permit2PayloadSchema = z.object({
  signature: z.string().regex(/^0x([0-9a-fA-F]{2})+$/, 'hex bytes'),
  permit2Authorization: z.object({
    from: addressString,
    permitted: z.object({ token: addressString, amount: uintString }),
    spender: addressString,
    nonce: uintString,
    deadline: uintString,
    witness: z.object({ to: addressString, validAfter: uintString }),
  }),
});

/** How the payer's tokens move: EIP-3009 `transferWithAuthorization`, or Permit2 through the x402 proxy. */
export type AssetTransferMethod = 'eip3009' | 'permit2';

/** The transfer method a requirement asks for (`extra.assetTransferMethod`, default EIP-3009), as the official client reads it. */
export function assetTransferMethod(requirements: PaymentRequirements): AssetTransferMethod {
  return requirements.extra?.['assetTransferMethod'] === 'permit2' ? 'permit2' : 'eip3009';
}

/** The key under which a Permit2 signature's single use is recorded: Permit2's own (owner, nonce) slot, shared by all tokens. */
export function permit2NonceKey(chainId: number, owner: Address, nonce: bigint): string {
  return `eip155:${chainId}/permit2/${owner.toLowerCase()}/${toHex(nonce, { size: 32 })}`;
}

// A payload of either transfer method, reduced to what the common checks need.
type ParsedTransfer = {
  method: AssetTransferMethod;
  authorization: TransferAuthorization;
  signature: Hex;
  typedData: Omit<Parameters<typeof recoverTypedDataAddress>[0], 'signature'>;
  nonceKey: string;
};

function parseEip3009(payload: Record<string, unknown>, requirements: PaymentRequirements, chainId: number): ParsedTransfer {
  const parsed = eip3009PayloadSchema.safeParse(payload);
  if (!parsed.success) throw new InvalidPaymentPayloadError('malformed exact EVM payload', { issues: parsed.error.issues });
  const raw = (parsed.data as ExactEIP3009Payload & { signature: Hex }).authorization;
  const authorization: TransferAuthorization = {
    from: getAddress(raw.from),
    to: getAddress(raw.to),
    value: BigInt(raw.value),
    validAfter: BigInt(raw.validAfter),
    validBefore: BigInt(raw.validBefore),
    nonce: raw.nonce,
  };
  const { name, version } = tokenDomain(requirements);
  return {
    method: 'eip3009',
    authorization,
    signature: parsed.data.signature as Hex,
    typedData: {
      domain: { name, version, chainId, verifyingContract: getAddress(requirements.asset) },
      types: authorizationTypes,
      primaryType: 'TransferWithAuthorization',
      message: authorization,
    },
    nonceKey: authorizationNonceKey(chainId, getAddress(requirements.asset), authorization.from, authorization.nonce),
  };
}

// The same checks as @x402/evm's facilitator (verifyPermit2), done offline at the edge: the proxy as
// spender, the required token, and a Permit2 EIP-712 signature by the owner.
function parsePermit2(payload: Record<string, unknown>, requirements: PaymentRequirements, chainId: number): ParsedTransfer {
  const parsed = permit2PayloadSchema.safeParse(payload);
  if (!parsed.success) throw new InvalidPaymentPayloadError('malformed exact Permit2 payload', { issues: parsed.error.issues });
  const p = parsed.data.permit2Authorization;
  if (!sameAddress(p.spender, x402ExactPermit2ProxyAddress)) {
    throw new InvalidPaymentPayloadError(`Permit2 spender must be the x402 Permit2 proxy ${x402ExactPermit2ProxyAddress}`);
  }
  if (!sameAddress(p.permitted.token, requirements.asset)) {
    throw new AssetMismatchError(`permit is for token ${p.permitted.token}, required ${requirements.asset}`);
  }
  const nonce = BigInt(p.nonce);
  const authorization: TransferAuthorization = {
    from: getAddress(p.from),
    to: getAddress(p.witness.to),
    value: BigInt(p.permitted.amount),
    validAfter: BigInt(p.witness.validAfter),
    validBefore: BigInt(p.deadline),
    nonce: toHex(nonce, { size: 32 }),
  };
  return {
    method: 'permit2',
    authorization,
    signature: parsed.data.signature as Hex,
    typedData: {
      domain: { name: 'Permit2', chainId, verifyingContract: PERMIT2_ADDRESS },
      types: permit2WitnessTypes,
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: getAddress(p.permitted.token), amount: authorization.value },
        spender: getAddress(p.spender),
        nonce,
        deadline: authorization.validBefore,
        witness: { to: authorization.to, validAfter: authorization.validAfter },
      },
    },
    nonceKey: permit2NonceKey(chainId, authorization.from, nonce),
  };
}

function tokenDomain(requirements: PaymentRequirements): { name: string; version: string } {
  const name = requirements.extra?.name;
  const version = requirements.extra?.version;
  if (typeof name !== 'string' || typeof version !== 'string') {
    throw new InvalidPaymentPayloadError('requirements lack the token EIP-712 domain (extra.name, extra.version)');
  }
  return { name, version };
}

/**
 * Verifies an x402 `exact` EVM payment offline, before any work: terms, the transfer method the
 * requirements ask for (EIP-3009, or Permit2 with `extra.assetTransferMethod: "permit2"`), recipient,
 * amount, validity window and the EIP-712 signature of the payer. It does not reserve the nonce
 * nor look at the chain (balance, nonce state): those belong to the nonce store and the facilitator.
 * Throws a PaymentRejectedError subclass whose `code` says why.
 */
export async function verifyExactEvmPayment(input: VerifyExactEvmInput): Promise<VerifiedExactEvmPayment> {
  const { payment, requirements } = input;
  checkTerms(payment, requirements);
  const chainId = chainIdOfNetwork(requirements.network) as number;
  const method = assetTransferMethod(requirements);
  const isPermit2 = isPermit2Payload(payment.payload as never);
  if (isPermit2 !== (method === 'permit2')) {
    throw new UnsupportedSchemeError(
      `this resource accepts ${method === 'permit2' ? 'Permit2' : 'EIP-3009 transferWithAuthorization'} payments only`,
    );
  }
  const transfer = isPermit2 ? parsePermit2(payment.payload, requirements, chainId) : parseEip3009(payment.payload, requirements, chainId);
  const { authorization, signature } = transfer;

  if (!sameAddress(authorization.to, requirements.payTo)) {
    throw new RecipientMismatchError(`authorization pays ${authorization.to}, required ${requirements.payTo}`);
  }
  const price = BigInt(requirements.amount);
  if (authorization.value < price) {
    throw new InsufficientAmountError(`authorized ${authorization.value}, price is ${price}`, { price: price.toString() });
  }
  if (authorization.value > price) {
    throw new AmountMismatchError(`authorized ${authorization.value}, the exact price is ${price}`, { price: price.toString() });
  }
  const now = BigInt(input.now);
  if (authorization.validAfter > now) {
    throw new AuthorizationNotYetValidError(`authorization is valid only after ${authorization.validAfter}`);
  }
  const minValidity = BigInt(input.minValiditySeconds ?? defaultMinValiditySeconds);
  if (authorization.validBefore <= now + minValidity) {
    throw new AuthorizationExpiredError(`authorization expired at ${authorization.validBefore} (needs > ${now + minValidity})`);
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

  return {
    method: transfer.method,
    payer: authorization.from,
    authorization,
    signature,
    requirements,
    paymentPayload: payment.original,
    nonceKey: transfer.nonceKey,
  };
}
