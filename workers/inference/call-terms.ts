import { getAddress, type Hex } from 'viem';
import { ZERO_ADDRESS, ZERO_BYTES32, type RunTerms } from '../../core/receipts';
import type { CallPrice } from '../payments/call-price';
import type { ReservedPayment } from '../payments/payment-gate';

/**
 * What the gateway states about a call before it runs, for the backend to sign into its receipt
 * with the charge: the admission policy that admitted it (bytes32 zero when the model has none),
 * the pricing terms (a free call's are all zero), and the payment that reserved it (all zero when
 * unpaid): scheme, network, asset, payer, and the payment authorization's nonce (EIP-3009's, or
 * Permit2's as 32 bytes), which with the asset and payer names the authorization on chain.
 */
export function callTerms(policyId: Hex | null, price: CallPrice, payment: ReservedPayment | null): RunTerms {
  const paid = payment?.payment;
  return {
    policyId: (policyId ?? ZERO_BYTES32).toLowerCase() as Hex,
    ...price.terms,
    paymentScheme: payment?.scheme ?? '',
    paymentNetwork: payment?.requirements.network ?? '',
    paymentAsset: payment ? getAddress(payment.requirements.asset) : ZERO_ADDRESS,
    payer: paid ? getAddress(paid.payer) : ZERO_ADDRESS,
    paymentNonce: paid ? (paid.authorization.nonce.toLowerCase() as Hex) : ZERO_BYTES32,
  };
}
