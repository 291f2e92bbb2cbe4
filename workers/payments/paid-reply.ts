import { encodePaymentResponseHeader } from '@x402/core/http';
import { bytesToHex } from 'viem';
import { paymentResponseHeader } from '../../core/x402';
import type { PaymentView, StoredReply } from '../../durable-objects/nonce-ledger';
import type { Env } from '../env';

/** Replies up to this size are kept in the payer's NonceLedger; larger ones go to R2 (a Durable Object value holds at most 2 MB). */
export const INLINE_REPLY_MAX_BYTES = 512 * 1024;

/** The bucket of large replies: REPLIES, or the models bucket where a deployment gives none. */
export function repliesBucket(env: Env): R2Bucket {
  return env.REPLIES ?? env.MODELS;
}

/** Keeps a paid call's result for payment-identifier retries: inline when small, else in R2 under its sha256. */
export async function storeReply(bucket: R2Bucket, json: string): Promise<StoredReply> {
  const bytes = new TextEncoder().encode(json);
  if (bytes.byteLength <= INLINE_REPLY_MAX_BYTES) return { body: json };
  const hash = bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  const bodyRef = `replies/${hash}`;
  await bucket.put(bodyRef, bytes, { sha256: hash.slice(2), httpMetadata: { contentType: 'application/json' } });
  return { bodyRef };
}

/** The result a stored reply holds, or null if its R2 object is gone. */
export async function loadReply(bucket: R2Bucket, reply: StoredReply): Promise<string | null> {
  if (reply.body !== undefined) return reply.body;
  if (!reply.bodyRef) return null;
  const object = await bucket.get(reply.bodyRef);
  return object ? object.text() : null;
}

/**
 * The answer to a paid call: its result (a JSON object) with the payment's state as `payment`, and,
 * once settled, the x402 `PAYMENT-RESPONSE` header. Built from the stored parts, so a retry with the
 * same payment-identifier gets the same bytes and the payment's current state.
 */
export function paidResponse(resultJson: string, payment: PaymentView, meta: { network: string; payer: string; replayed: boolean }): Response {
  // The result is JSON.stringify's output for an object: splice the payment in rather than parse megabytes again.
  const paymentJson = JSON.stringify(payment);
  const body = resultJson === '{}' ? `{"payment":${paymentJson}}` : `${resultJson.slice(0, -1)},"payment":${paymentJson}}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (payment.state === 'settled') {
    headers[paymentResponseHeader] = encodePaymentResponseHeader({
      success: true,
      transaction: payment.transaction ?? '',
      network: meta.network,
      payer: meta.payer,
      ...(payment.charged === null ? {} : { amount: payment.charged }),
    } as never);
  }
  if (meta.replayed) headers['proofgate-replayed'] = 'true';
  return new Response(body, { status: 200, headers });
}
