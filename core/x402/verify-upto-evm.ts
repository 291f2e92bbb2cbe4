import type { PaymentRequirements } from '@x402/core/types';
import { PERMIT2_ADDRESS, isPermit2Payload, uptoPermit2WitnessTypes, x402UptoPermit2ProxyAddress } from '@x402/evm';
import { getAddress, toHex, type Hex } from 'viem';
import { chainIdOfNetwork } from './eip155-network';
import { AmountMismatchError, AssetMismatchError, FacilitatorMismatchError, InsufficientAmountError, InvalidPaymentPayloadError } from './errors';
import {
  checkTerms,
  checkTransfer,
  permit2NonceKey,
  sameAddress,
  type ParsedTransfer,
  type TransferAuthorization,
  type VerifiedEvmPayment,
  type VerifyEvmInput,
} from './evm-authorization';
import { permit2PayloadSchema } from './verify-exact-evm';

/** The address that settles `upto` payments, as the requirements name it (`extra.facilitatorAddress`). */
export function uptoFacilitatorAddress(requirements: PaymentRequirements): string | undefined {
  const address = requirements.extra?.['facilitatorAddress'];
  return typeof address === 'string' ? address : undefined;
}

/**
 * Verifies an x402 `upto` EVM payment offline, as @x402/evm's upto facilitator does (verifyUptoPermit2):
 * a Permit2 `PermitWitnessTransferFrom` for the upto proxy whose witness names the recipient, the
 * facilitator that alone may choose the amount, and validAfter; the signed maximum must be the
 * requirements' amount. The amount charged is decided after the call (≤ the maximum).
 */
export async function verifyUptoEvmPayment(input: VerifyEvmInput): Promise<VerifiedEvmPayment> {
  const { payment, requirements } = input;
  checkTerms(payment, requirements, 'upto');
  const chainId = chainIdOfNetwork(requirements.network) as number;
  if (!isPermit2Payload(payment.payload as never)) throw new InvalidPaymentPayloadError('an upto payment is a Permit2 authorization');
  const parsed = permit2PayloadSchema.safeParse(payment.payload);
  if (!parsed.success) throw new InvalidPaymentPayloadError('malformed upto Permit2 payload', { issues: parsed.error.issues });
  const p = parsed.data.permit2Authorization;
  if (!sameAddress(p.spender, x402UptoPermit2ProxyAddress)) {
    throw new InvalidPaymentPayloadError(`Permit2 spender must be the x402 upto Permit2 proxy ${x402UptoPermit2ProxyAddress}`);
  }
  if (!sameAddress(p.permitted.token, requirements.asset)) {
    throw new AssetMismatchError(`permit is for token ${p.permitted.token}, required ${requirements.asset}`);
  }
  const facilitator = uptoFacilitatorAddress(requirements);
  if (!facilitator || !p.witness.facilitator || !sameAddress(p.witness.facilitator, facilitator)) {
    throw new FacilitatorMismatchError(`the witness must name the facilitator ${facilitator ?? '(none configured)'}`);
  }
  const max = BigInt(requirements.amount);
  const value = BigInt(p.permitted.amount);
  if (value < max) throw new InsufficientAmountError(`authorized up to ${value}, the maximum is ${max}`, { price: max.toString() });
  if (value > max) throw new AmountMismatchError(`authorized up to ${value}, the maximum must be ${max}`, { price: max.toString() });

  const nonce = BigInt(p.nonce);
  const authorization: TransferAuthorization = {
    from: getAddress(p.from),
    to: getAddress(p.witness.to),
    value,
    validAfter: BigInt(p.witness.validAfter),
    validBefore: BigInt(p.deadline),
    nonce: toHex(nonce, { size: 32 }),
  };
  const transfer: ParsedTransfer = {
    method: 'permit2',
    authorization,
    signature: parsed.data.signature as Hex,
    typedData: {
      domain: { name: 'Permit2', chainId, verifyingContract: PERMIT2_ADDRESS },
      types: uptoPermit2WitnessTypes,
      primaryType: 'PermitWitnessTransferFrom',
      message: {
        permitted: { token: getAddress(p.permitted.token), amount: value },
        spender: getAddress(p.spender),
        nonce,
        deadline: authorization.validBefore,
        witness: { to: authorization.to, facilitator: getAddress(p.witness.facilitator), validAfter: authorization.validAfter },
      },
    },
    nonceKey: permit2NonceKey(chainId, authorization.from, nonce),
  };
  await checkTransfer(transfer, input);
  return {
    scheme: 'upto',
    method: 'permit2',
    payer: authorization.from,
    authorization,
    signature: transfer.signature,
    requirements,
    paymentPayload: payment.original,
    nonceKey: transfer.nonceKey,
  };
}
