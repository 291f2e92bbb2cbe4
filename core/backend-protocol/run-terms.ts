import { bytesToHex, hexToBytes, type Hex } from 'viem';
import { z } from 'zod';
import { ProofgateError } from '../errors';
import { addressSchema, bytes32Schema, isSha256Id } from '../hex';
import { isPriceTerms, isUint256Decimal, type RunTerms } from '../receipts';

// The terms a run is done under (admission policy, pricing, payment) travel beside the run request
// in their own header, authenticated with the same per-backend key as the request (core/node-protocol)
// and bound to its request id, so they cannot be moved to another request or altered on the way:
// the backend signs them into the receipt, and must sign only what the gateway stated. They are a
// header of their own, not part of the request's MAC, so that the request body stays the canonical
// input tensors (the preimage of the receipt's inputHash) and signer nodes' requests are unchanged.

/** Headers of a run request's terms: base64url JSON, and its HMAC-SHA256 (hex) under the backend's key. */
export const RUN_TERMS_HEADERS = {
  terms: 'proofgate-run-terms',
  signature: 'proofgate-run-terms-signature',
} as const;

/** Longest terms header a backend reads. */
const MAX_TERMS_HEADER = 2048;

const amount = z.string().refine(isUint256Decimal, 'expected a uint256 decimal');

/** The run terms as the gateway sends them (checked by the backend before it signs them). */
export const runTermsSchema = z
  .object({
    policyId: bytes32Schema,
    priceBase: amount,
    pricePerMs: amount,
    priceCap: amount,
    paymentScheme: z.enum(['', 'exact', 'upto']),
    paymentNetwork: z.string().regex(/^([-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32})?$/),
    paymentAsset: addressSchema,
    payer: addressSchema,
    paymentNonce: bytes32Schema,
  })
  .strict()
  .refine(isPriceTerms, 'the base exceeds the cap');

const utf8 = new TextEncoder();

function macInput(requestId: Hex, encoded: string): Uint8Array {
  return utf8.encode(`proofgate-run-terms-v1\n${requestId}\n${encoded}`);
}

function toBase64Url(text: string): string {
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The headers that carry `terms` for the run request `requestId`, authenticated with the backend's key (as the gateway holds it, or hex). */
export async function runTermsHeaders(authKey: CryptoKey | Hex, requestId: Hex, terms: RunTerms): Promise<Record<string, string>> {
  const key =
    typeof authKey === 'string'
      ? await crypto.subtle.importKey('raw', hexToBytes(authKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
      : authKey;
  const encoded = toBase64Url(JSON.stringify(terms));
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, macInput(requestId, encoded)));
  return { [RUN_TERMS_HEADERS.terms]: encoded, [RUN_TERMS_HEADERS.signature]: bytesToHex(mac) };
}

/**
 * The terms of an authenticated run request, checked against the backend's key: null when the
 * request states none (a gateway that sends no terms gets a version 1 receipt, which states none
 * either); 401 when their MAC does not verify for this request id; 400 when they are malformed.
 */
export async function readRunTerms(
  authKey: Hex,
  requestId: Hex,
  encoded: string | undefined,
  signature: string | undefined,
): Promise<RunTerms | null> {
  if (encoded === undefined && signature === undefined) return null;
  if (!encoded || !signature || encoded.length > MAX_TERMS_HEADER || !/^[A-Za-z0-9_-]+$/.test(encoded) || !isSha256Id(signature)) {
    throw new ProofgateError('unauthorized', 'the run terms are not signed by the gateway', 401);
  }
  const key = await crypto.subtle.importKey('raw', hexToBytes(authKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  if (!(await crypto.subtle.verify('HMAC', key, hexToBytes(signature as Hex), macInput(requestId, encoded)))) {
    throw new ProofgateError('unauthorized', 'the run terms are not signed by the gateway', 401);
  }
  let json: unknown;
  try {
    json = JSON.parse(atob(encoded.replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    throw new ProofgateError('invalid_request', 'the run terms are not base64url JSON', 400);
  }
  const parsed = runTermsSchema.safeParse(json);
  if (!parsed.success) throw new ProofgateError('invalid_request', 'the run terms are malformed', 400);
  return parsed.data as RunTerms;
}
