import { ProofgateError } from '../errors';

/**
 * Base of every x402 payment rejection. Status 402 because the x402 transport answers a bad or
 * insufficient payment with a fresh PaymentRequired whose `error` is this `code`.
 */
export class PaymentRejectedError extends ProofgateError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, 402, details);
  }
}

/** The payment header is not base64 JSON of a PaymentPayload, or its scheme payload is malformed. */
export class InvalidPaymentPayloadError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_payload', message, details);
  }
}

/** The payment uses a scheme (or asset transfer method) this endpoint does not accept. */
export class UnsupportedSchemeError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('unsupported_scheme', message, details);
  }
}

/** The payment is for another network (chain) than the one required. */
export class NetworkMismatchError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('network_mismatch', message, details);
  }
}

/** The payment is in another token than the one required. */
export class AssetMismatchError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('asset_mismatch', message, details);
  }
}

/** The payment pays someone other than the required pay-to address. */
export class RecipientMismatchError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('recipient_mismatch', message, details);
  }
}

/** The authorized value is below the price. */
export class InsufficientAmountError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('insufficient_amount', message, details);
  }
}

/**
 * The authorized value is above the price. The `exact` scheme moves exactly the required amount and
 * the x402 facilitator refuses any other value, so accepting it would serve work that never settles.
 */
export class AmountMismatchError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('amount_mismatch', message, details);
  }
}

/** validBefore has passed (or leaves too little time to settle). */
export class AuthorizationExpiredError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('authorization_expired', message, details);
  }
}

/** validAfter is still in the future. */
export class AuthorizationNotYetValidError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('authorization_not_yet_valid', message, details);
  }
}

/** The EIP-712 signature does not recover to `authorization.from` (or cannot be checked offline). */
export class InvalidPaymentSignatureError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('invalid_signature', message, details);
  }
}

/** An `upto` authorization names another facilitator than the one that settles for this gateway. */
export class FacilitatorMismatchError extends PaymentRejectedError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('facilitator_mismatch', message, details);
  }
}

/** The chain says the payment cannot settle: funds, nonce, Permit2 or its allowance (`code` says which). */
export class PaymentUnsettleableError extends PaymentRejectedError {}

/** The facilitator, asked before any work, says it could not settle this payment. */
export class FacilitatorRefusedError extends PaymentRejectedError {
  constructor(reason: string) {
    super('payment_not_settleable', `the facilitator would not settle this payment (${reason})`, { reason });
  }
}

/** The chain could not be read: a priced call is refused rather than served on trust. */
export class ChainUnavailableError extends ProofgateError {
  constructor(message: string) {
    super('chain_unavailable', message, 503, { retryAfterSeconds: 5 });
  }
}

/** The facilitator could not be asked whether it would settle: a priced call is refused rather than served on trust. */
export class FacilitatorUnavailableError extends ProofgateError {
  constructor(message: string) {
    super('facilitator_unavailable', message, 503, { retryAfterSeconds: 5 });
  }
}
