/**
 * The SDK's errors. Every one is a ProofgateError (the class the gateway itself throws) with the
 * server's stable `code` and HTTP `status`; the subclass says what kind of failure it is, so callers
 * can `catch (e) { if (e instanceof PaymentRequiredError) … }` or switch on `e.code`.
 */
import { ProofgateError } from '../../core/errors';

export { ProofgateError };

/** An error answer of the gateway: `{"error": {"code", "message", …}}` (or an x402 402 body). */
export class ProofgateApiError extends ProofgateError {}

/** 400: the request does not fit the endpoint (bad JSON, tensors that do not fit the model, …). */
export class BadRequestError extends ProofgateApiError {}
/** 401: a token, a node signature, or a policy client's consume authorization is missing, stale or wrong. */
export class UnauthorizedError extends ProofgateApiError {}
/** 402: the model is priced and no acceptable payment came with the call (or the payment was refused); `paymentRequired` is the x402 offer. */
export class PaymentRequiredError extends ProofgateApiError {
  /** The decoded x402 `PaymentRequired` (accepts: scheme, network, amount, asset, payTo, …), when the gateway sent one. */
  get paymentRequired(): X402PaymentRequired | undefined {
    return this.details?.['paymentRequired'] as X402PaymentRequired | undefined;
  }
}
/**
 * 403: an admission policy denied the call (`policy_denied`, with `reasons`) or could not decide
 * (`policy_error`), or an attestation's consume authorization is not its policy client's (`not_policy_client`).
 */
export class ForbiddenError extends ProofgateApiError {}
/** 404: no such model, receipt, task, blob, route… */
export class NotFoundError extends ProofgateApiError {}
/** 409: the action was done before (a consumed attestation, a payment already in use). */
export class ConflictError extends ProofgateApiError {}
/** 413: the body is larger than the gateway accepts. */
export class PayloadTooLargeError extends ProofgateApiError {}
/** 422: well-formed but refused (an invalid attestation, one bound to no policy client, missing PolicyData). */
export class UnprocessableError extends ProofgateApiError {}
/** 429: too many requests (e.g. intents without an API key: `rate_limited`); `details.retryAfterSeconds` when the gateway said. */
export class RateLimitedError extends ProofgateApiError {}
/** 501: the gateway does not offer this (yet), e.g. a route a newer gateway adds. */
export class NotImplementedError extends ProofgateApiError {}
/** 5xx: the gateway or its backends failed (`backend_failed`, `no_backend`, `payments_unavailable`, …). */
export class GatewayError extends ProofgateApiError {}

/** A receipt that does not verify: the result is not returned; `reasons` are verifyReceipt's codes. */
export class ReceiptRejectedError extends ProofgateError {
  constructor(readonly reasons: string[]) {
    super('receipt_rejected', `the receipt does not verify: ${reasons.join(', ')}`, 502, { reasons });
  }
}

/** The model's price is above the client's `maxPrice` (or no `maxPrice` was set): nothing was paid. */
export class PriceAboveMaxError extends ProofgateError {
  constructor(price: string, maxPrice: string | undefined, asset: string) {
    super(
      'price_above_max',
      maxPrice === undefined
        ? `the call costs ${price} units of ${asset}; set maxPrice to allow paying`
        : `the call costs ${price} units of ${asset}, above maxPrice ${maxPrice}`,
      402,
      { price, maxPrice: maxPrice ?? null, asset },
    );
  }
}

/** Bytes fetched by content hash are not the bytes of that hash. */
export class BlobHashMismatchError extends ProofgateError {
  constructor(expected: string, actual: string) {
    super('blob_hash_mismatch', `downloaded bytes hash to ${actual}, not ${expected}`, 502, { expected, actual });
  }
}

/** The gateway could not be reached, or answered something that is not Proofgate's. */
export class GatewayUnreachableError extends ProofgateError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('gateway_unreachable', message, 503, undefined, options);
  }
}

/** The x402 `PaymentRequired` a 402 carries (the fields the SDK reads). */
export interface X402PaymentRequired {
  x402Version: number;
  error?: string;
  accepts: {
    scheme: string;
    network: string;
    amount: string;
    asset: string;
    payTo: string;
    maxTimeoutSeconds?: number;
    extra?: Record<string, unknown>;
  }[];
  resource?: { url: string; description?: string; mimeType?: string };
  extensions?: Record<string, unknown>;
}

const BY_STATUS: Readonly<
  Record<number, new (code: string, message: string, status: number, details?: Record<string, unknown>) => ProofgateApiError>
> = {
  400: BadRequestError,
  401: UnauthorizedError,
  402: PaymentRequiredError,
  403: ForbiddenError,
  404: NotFoundError,
  405: BadRequestError,
  409: ConflictError,
  413: PayloadTooLargeError,
  415: BadRequestError,
  422: UnprocessableError,
  429: RateLimitedError,
  501: NotImplementedError,
};

/**
 * The error a non-2xx gateway answer stands for: the class by status, the server's code and message
 * and its other fields as `details`. x402 402 bodies carry their code as a string `error`.
 */
export function errorFromBody(status: number, body: unknown, retryAfter?: string | null): ProofgateApiError {
  const Class = BY_STATUS[status] ?? (status >= 500 ? GatewayError : ProofgateApiError);
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const details: Record<string, unknown> = {};
  if (retryAfter && Number.isFinite(Number(retryAfter))) details['retryAfterSeconds'] = Number(retryAfter);
  if (typeof b['error'] === 'object' && b['error'] !== null) {
    const { code, message, ...rest } = b['error'] as Record<string, unknown>;
    return new Class(String(code ?? `http_${status}`), String(message ?? `HTTP ${status}`), status, { ...rest, ...details });
  }
  if (status === 402 && Array.isArray(b['accepts'])) {
    const code = typeof b['error'] === 'string' && b['error'] ? b['error'] : 'payment_required';
    const message = typeof b['message'] === 'string' ? b['message'] : 'payment required';
    return new Class(code, message, status, { ...details, paymentRequired: b });
  }
  return new Class(`http_${status}`, typeof body === 'string' && body ? body.slice(0, 200) : `HTTP ${status}`, status, details);
}
