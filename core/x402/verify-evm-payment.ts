import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { UnsupportedSchemeError } from './errors';
import type { VerifiedEvmPayment, VerifyEvmInput } from './evm-authorization';
import type { DecodedPayment } from './payment-header';
import { verifyExactEvmPayment } from './verify-exact-evm';
import { verifyUptoEvmPayment } from './verify-upto-evm';

/**
 * The requirement among those offered that a payment answers: the one of its scheme. A v1 payment
 * names only scheme and network; a v2 one states the requirement it accepted, checked field by field
 * by the verifier.
 */
export function requirementsForPayment(payment: DecodedPayment, offered: PaymentRequirements[]): PaymentRequirements {
  const match = offered.find((r) => r.scheme === payment.scheme);
  if (!match) {
    throw new UnsupportedSchemeError(
      `scheme ${JSON.stringify(payment.scheme)} is not offered here; use ${offered.map((r) => `"${r.scheme}"`).join(' or ')}`,
    );
  }
  return match;
}

/** Verifies an `exact` or `upto` EVM payment offline against the requirements of its scheme. */
export function verifyEvmPayment(input: VerifyEvmInput): Promise<VerifiedEvmPayment> {
  return input.requirements.scheme === 'upto' ? verifyUptoEvmPayment(input) : verifyExactEvmPayment(input);
}

/**
 * What the facilitator is sent for a verified payment: an x402 v2 PaymentPayload whose `accepted` is
 * the server's requirements and whose scheme payload is the one the edge verified. Legacy v1
 * payloads (`X-PAYMENT`) carry the same scheme payload, so they settle like v2 ones; client
 * extensions are left out, so the facilitator settles exactly the path the edge checked.
 */
export function settlementPayload(payment: DecodedPayment, requirements: PaymentRequirements): PaymentPayload {
  return {
    x402Version: 2,
    ...(payment.resource ? { resource: payment.resource } : {}),
    accepted: requirements,
    payload: payment.payload,
  };
}
