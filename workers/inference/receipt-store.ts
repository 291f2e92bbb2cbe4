import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Address, Hex } from 'viem';
import { ProofgateError } from '../../core/errors';
import { isReceiptV2, type InferenceReceipt, type ReceiptChargeFields, type ReceiptTimings } from '../../core/receipts';
import { receipts } from '../../schema';

/** No receipt with that request id. */
export class ReceiptNotFoundError extends ProofgateError {
  constructor(requestId: string) {
    super('receipt_not_found', `no receipt for request ${requestId}`, 404);
  }
}

/** Where receipts are kept: D1, and an R2 bucket that takes a receipt D1 would not. */
export interface ReceiptStorage {
  db: D1Database;
  fallback: R2Bucket | undefined;
}

// Receipts accepted by this isolate whose write has not finished: served from here meanwhile, so a
// caller who reads its receipt right after the answer finds it.
const pendingWrites = new Map<string, { receipt: InferenceReceipt; done: Promise<void> }>();

/** Tries D1 this many times (with backoff) before the receipt goes to the R2 fallback. */
export const D1_ATTEMPTS = 4;

function fallbackKey(requestId: string): string {
  return `receipts/${requestId.toLowerCase()}.json`;
}

/**
 * Persists a verified receipt without holding the answer: the write runs under `waitUntil`, is
 * retried with backoff, and, if D1 keeps refusing, lands in the R2 bucket, which the read path
 * also consults. Only if both refuse is it lost to storage, and then it is logged in full (it is
 * also in the caller's answer). The write is idempotent (one row per request id).
 */
export function persistReceipt(storage: ReceiptStorage, receipt: InferenceReceipt, waitUntil: (p: Promise<unknown>) => void, nowMs: number): void {
  const done = writeReceipt(storage, receipt, nowMs).finally(() => pendingWrites.delete(receipt.requestId));
  pendingWrites.set(receipt.requestId, { receipt, done });
  waitUntil(done);
}

async function writeReceipt(storage: ReceiptStorage, receipt: InferenceReceipt, nowMs: number): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < D1_ATTEMPTS; attempt++) {
    try {
      await storeReceipt(storage.db, receipt, nowMs);
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100 * 4 ** attempt));
    }
  }
  try {
    if (!storage.fallback) throw new Error('no fallback bucket bound');
    await storage.fallback.put(fallbackKey(receipt.requestId), JSON.stringify(receipt), { httpMetadata: { contentType: 'application/json' } });
    console.warn(`receipt ${receipt.requestId} stored in R2: D1 refused it (${String(lastError)})`);
  } catch (err) {
    console.error(`receipt_unpersisted ${JSON.stringify(receipt)} d1=${String(lastError)} r2=${String(err)}`);
  }
}

/** Stores a receipt whose signature was already verified (a second write of the same receipt changes nothing). */
export async function storeReceipt(db: D1Database, r: InferenceReceipt, nowMs: number): Promise<void> {
  await drizzle(db)
    .insert(receipts)
    .values({
      requestId: r.requestId,
      model: r.model,
      version: r.version,
      modelSha256: r.modelSha256,
      inputHash: r.inputHash,
      outputHash: r.outputHash,
      backend: r.backend,
      executionProvider: r.executionProvider,
      issuedAt: r.issuedAt,
      timings: JSON.stringify(r.timings),
      signature: r.signature,
      createdAt: nowMs,
      ...(isReceiptV2(r)
        ? {
            policyId: r.policyId,
            runMs: r.runMs,
            priceBase: r.priceBase,
            pricePerMs: r.pricePerMs,
            priceCap: r.priceCap,
            charged: r.charged,
            paymentScheme: r.paymentScheme,
            paymentNetwork: r.paymentNetwork,
            paymentAsset: r.paymentAsset,
            payer: r.payer,
            paymentNonce: r.paymentNonce,
          }
        : {}),
    })
    .onConflictDoNothing();
}

/**
 * A stored receipt as the API returns it, in the fields' signed order: version 1's, then, for a
 * version 2 receipt (its `charged` is set), the fields that bind policy, pricing, charge and payment.
 */
export function receiptOfRow(r: typeof receipts.$inferSelect): InferenceReceipt {
  const v2: ReceiptChargeFields | Record<string, never> =
    r.charged === null
      ? {}
      : {
          policyId: r.policyId as Hex,
          runMs: r.runMs!,
          priceBase: r.priceBase!,
          pricePerMs: r.pricePerMs!,
          priceCap: r.priceCap!,
          charged: r.charged,
          paymentScheme: r.paymentScheme as ReceiptChargeFields['paymentScheme'],
          paymentNetwork: r.paymentNetwork!,
          paymentAsset: r.paymentAsset as Address,
          payer: r.payer as Address,
          paymentNonce: r.paymentNonce as Hex,
        };
  return {
    requestId: r.requestId as Hex,
    modelSha256: r.modelSha256 as Hex,
    inputHash: r.inputHash as Hex,
    outputHash: r.outputHash as Hex,
    backend: r.backend as Address,
    executionProvider: r.executionProvider,
    issuedAt: r.issuedAt,
    ...v2,
    model: r.model,
    version: r.version,
    timings: JSON.parse(r.timings) as ReceiptTimings,
    signature: r.signature as Hex,
  };
}

/** Loads a stored receipt by request id: from D1, a write still under way in this isolate, or the R2 fallback. */
export async function loadReceipt(storage: ReceiptStorage, requestId: string): Promise<InferenceReceipt> {
  const id = requestId.toLowerCase();
  const pending = pendingWrites.get(id);
  if (pending) return pending.receipt;
  const rows = await drizzle(storage.db).select().from(receipts).where(eq(receipts.requestId, id)).limit(1);
  const r = rows[0];
  if (!r) {
    const stored = await storage.fallback?.get(fallbackKey(id));
    if (stored) return (await stored.json()) as InferenceReceipt;
    throw new ReceiptNotFoundError(requestId);
  }
  return receiptOfRow(r);
}
