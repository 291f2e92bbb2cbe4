import type { PaymentRequirements } from '@x402/core/types';
import { PERMIT2_ADDRESS, authorizationTypes, isPermit2Payload, permit2WitnessTypes, x402ExactPermit2ProxyAddress } from '@x402/evm';
import { getAddress, toHex, type Hex } from 'viem';
import { z } from 'zod';
import { hexBytesPattern } from '../hex';
import { chainIdOfNetwork } from './eip155-network';
import { AmountMismatchError, AssetMismatchError, InsufficientAmountError, InvalidPaymentPayloadError, UnsupportedSchemeError } from './errors';
import {
  authorizationNonceKey,
  checkTerms,
  checkTransfer,
  permit2NonceKey,
  sameAddress,
  type AssetTransferMethod,
  type ParsedTransfer,
  type TransferAuthorization,
  type VerifiedEvmPayment,
  type VerifyEvmInput,
} from './evm-authorization';

// @x402/evm ships its payloads only as TypeScript types plus `"authorization" in p` guards, so the
// edge validates the untrusted shapes itself before touching any field.
const uintString = z.string().regex(/^(0|[1-9][0-9]{0,77})$/, 'a non-negative decimal integer');
const addressString = z.string().regex(hexBytesPattern(20), 'a 20-byte hex address');
const signatureString = z.string().regex(/^0x([0-9a-fA-F]{2})+$/, 'hex bytes');

const eip3009PayloadSchema = z.object({
  signature: signatureString,
  authorization: z.object({
    from: addressString,
    to: addressString,
    value: uintString,
    validAfter: uintString,
    validBefore: uintString,
    nonce: z.string().regex(hexBytesPattern(32), 'a 32-byte hex nonce'),
  }),
});

/** The Permit2 payload of both schemes; `upto` adds the facilitator to the witness. */
export const permit2PayloadSchema = z.object({
  signature: signatureString,
  permit2Authorization: z.object({
    from: addressString,
    permitted: z.object({ token: addressString, amount: uintString }),
    spender: addressString,
    nonce: uintString,
    deadline: uintString,
    witness: z.object({ to: addressString, facilitator: addressString.optional(), validAfter: uintString }),
  }),
});

/** The transfer method a requirement asks for (`extra.assetTransferMethod`, default EIP-3009), as the official client reads it. */
export function assetTransferMethod(requirements: PaymentRequirements): AssetTransferMethod {
  return requirements.extra?.['assetTransferMethod'] === 'permit2' ? 'permit2' : 'eip3009';
}

function tokenDomain(requirements: PaymentRequirements): { name: string; version: string } {
  const name = requirements.extra?.name;
  const version = requirements.extra?.version;
  if (typeof name !== 'string' || typeof version !== 'string') {
    throw new InvalidPaymentPayloadError('requirements lack the token EIP-712 domain (extra.name, extra.version)');
  }
  return { name, version };
}

function parseEip3009(payload: Record<string, unknown>, requirements: PaymentRequirements, chainId: number): ParsedTransfer {
  const parsed = eip3009PayloadSchema.safeParse(payload);
  if (!parsed.success) throw new InvalidPaymentPayloadError('malformed exact EVM payload', { issues: parsed.error.issues });
  const raw = parsed.data.authorization;
  const authorization: TransferAuthorization = {
    from: getAddress(raw.from),
    to: getAddress(raw.to),
    value: BigInt(raw.value),
    validAfter: BigInt(raw.validAfter),
    validBefore: BigInt(raw.validBefore),
    nonce: raw.nonce as Hex,
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

// The same checks as @x402/evm's facilitator (verifyPermit2), done offline at the edge: the exact
// proxy as spender, the required token, and a Permit2 EIP-712 signature by the owner.
function parsePermit2(payload: Record<string, unknown>, requirements: PaymentRequirements, chainId: number): ParsedTransfer {
  const parsed = permit2PayloadSchema.safeParse(payload);
  if (!parsed.success) throw new InvalidPaymentPayloadError('malformed exact Permit2 payload', { issues: parsed.error.issues });
  const p = parsed.data.permit2Authorization;
  if (!sameAddress(p.spender, x402ExactPermit2ProxyAddress)) {
    throw new InvalidPaymentPayloadError(`Permit2 spender must be the x402 exact Permit2 proxy ${x402ExactPermit2ProxyAddress}`);
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

/**
 * Verifies an x402 `exact` EVM payment offline, before any work: terms, the transfer method the
 * requirements ask for (EIP-3009, or Permit2 with `extra.assetTransferMethod: "permit2"`), recipient,
 * amount, validity window and the EIP-712 signature of the payer. It does not reserve the nonce
 * nor look at the chain (balance, nonce state): those belong to the nonce ledger and the chain check.
 * Throws a PaymentRejectedError subclass whose `code` says why.
 */
export async function verifyExactEvmPayment(input: VerifyEvmInput): Promise<VerifiedEvmPayment> {
  const { payment, requirements } = input;
  checkTerms(payment, requirements, 'exact');
  const chainId = chainIdOfNetwork(requirements.network) as number;
  const method = assetTransferMethod(requirements);
  const isPermit2 = isPermit2Payload(payment.payload as never);
  if (isPermit2 !== (method === 'permit2')) {
    throw new UnsupportedSchemeError(
      `this resource accepts ${method === 'permit2' ? 'Permit2' : 'EIP-3009 transferWithAuthorization'} payments only`,
    );
  }
  const transfer = isPermit2 ? parsePermit2(payment.payload, requirements, chainId) : parseEip3009(payment.payload, requirements, chainId);
  const price = BigInt(requirements.amount);
  const value = transfer.authorization.value;
  if (value < price) throw new InsufficientAmountError(`authorized ${value}, price is ${price}`, { price: price.toString() });
  // `exact` moves exactly the required amount and the facilitator refuses any other value.
  if (value > price) throw new AmountMismatchError(`authorized ${value}, the exact price is ${price}`, { price: price.toString() });
  await checkTransfer(transfer, input);
  return {
    scheme: 'exact',
    method: transfer.method,
    payer: transfer.authorization.from,
    authorization: transfer.authorization,
    signature: transfer.signature,
    requirements,
    paymentPayload: payment.original,
    nonceKey: transfer.nonceKey,
  };
}
