import { decodePaymentSignatureHeader } from '@x402/core/http';
import { PaymentPayloadV1Schema, PaymentPayloadV2Schema } from '@x402/core/schemas';
import type { PaymentPayload, PaymentPayloadV1, ResourceInfo } from '@x402/core/types';
import { InvalidPaymentPayloadError } from './errors';

/** Request header carrying an x402 v2 PaymentPayload (base64 JSON). */
export const paymentSignatureHeader = 'PAYMENT-SIGNATURE';
/** Request header carrying a legacy x402 v1 PaymentPayload (base64 JSON). */
export const legacyPaymentHeader = 'X-PAYMENT';
/** Response header carrying the base64 JSON PaymentRequired of a 402. */
export const paymentRequiredHeader = 'PAYMENT-REQUIRED';
/** Response header carrying the base64 JSON SettleResponse of a paid call. */
export const paymentResponseHeader = 'PAYMENT-RESPONSE';

// Headers are bounded before decoding so a huge header costs nothing; real payloads are ~1-2 KB.
const maxHeaderLength = 16 * 1024;

/**
 * A decoded payment, one shape for both protocol versions. `accepted` and `resource` exist only in v2,
 * where the client states which of the offered requirements it pays; `original` is what the client
 * sent, to forward to a facilitator unchanged.
 */
export type DecodedPayment = {
  x402Version: 1 | 2;
  scheme: string;
  network: string;
  accepted: PaymentPayload['accepted'] | undefined;
  resource: ResourceInfo | undefined;
  payload: Record<string, unknown>;
  original: PaymentPayload | PaymentPayloadV1;
};

/**
 * Decodes one payment header value (base64 JSON) into a v2 or v1 PaymentPayload, validated with the
 * official @x402/core schemas. Throws InvalidPaymentPayloadError for anything else.
 */
export function decodePaymentHeader(value: string): DecodedPayment {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > maxHeaderLength) {
    throw new InvalidPaymentPayloadError(`payment header must be 1..${maxHeaderLength} characters`);
  }
  let json: unknown;
  try {
    json = decodePaymentSignatureHeader(trimmed);
  } catch {
    throw new InvalidPaymentPayloadError('payment header is not base64-encoded JSON');
  }
  const version = typeof json === 'object' && json !== null ? (json as { x402Version?: unknown }).x402Version : undefined;
  if (version === 2) {
    const parsed = PaymentPayloadV2Schema.safeParse(json);
    if (!parsed.success) throw new InvalidPaymentPayloadError('not an x402 v2 PaymentPayload', { issues: parsed.error.issues });
    const { accepted, resource, payload } = parsed.data;
    const original = parsed.data as PaymentPayload;
    return { x402Version: 2, scheme: accepted.scheme, network: accepted.network, accepted: original.accepted, resource, payload, original };
  }
  if (version === 1) {
    const parsed = PaymentPayloadV1Schema.safeParse(json);
    if (!parsed.success) throw new InvalidPaymentPayloadError('not an x402 v1 PaymentPayload', { issues: parsed.error.issues });
    const original = parsed.data as PaymentPayloadV1;
    return {
      x402Version: 1,
      scheme: original.scheme,
      network: original.network,
      accepted: undefined,
      resource: undefined,
      payload: original.payload,
      original,
    };
  }
  throw new InvalidPaymentPayloadError(`unsupported x402Version ${JSON.stringify(version)}`);
}

/**
 * Reads the payment from request headers: `PAYMENT-SIGNATURE` (v2) first, then legacy `X-PAYMENT`.
 * Returns undefined when neither is present (the caller answers 402 with the requirements).
 */
export function readPaymentHeader(headers: Pick<Headers, 'get'>): DecodedPayment | undefined {
  const value = headers.get(paymentSignatureHeader) ?? headers.get(legacyPaymentHeader);
  return value === null ? undefined : decodePaymentHeader(value);
}
