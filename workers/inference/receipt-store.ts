import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { Address, Hex } from 'viem';
import { ProofgateError } from '../../core/errors';
import type { InferenceReceipt, ReceiptTimings } from '../../core/receipts';
import { receipts } from '../../schema';

/** No receipt with that request id. */
export class ReceiptNotFoundError extends ProofgateError {
  constructor(requestId: string) {
    super('receipt_not_found', `no receipt for request ${requestId}`, 404);
  }
}

/** Stores a receipt whose signature was already verified. */
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
    });
}

/** Loads a stored receipt by request id. */
export async function loadReceipt(db: D1Database, requestId: string): Promise<InferenceReceipt> {
  const rows = await drizzle(db).select().from(receipts).where(eq(receipts.requestId, requestId.toLowerCase())).limit(1);
  const r = rows[0];
  if (!r) throw new ReceiptNotFoundError(requestId);
  return {
    requestId: r.requestId as Hex,
    modelSha256: r.modelSha256 as Hex,
    inputHash: r.inputHash as Hex,
    outputHash: r.outputHash as Hex,
    backend: r.backend as Address,
    executionProvider: r.executionProvider,
    issuedAt: r.issuedAt,
    model: r.model,
    version: r.version,
    timings: JSON.parse(r.timings) as ReceiptTimings,
    signature: r.signature as Hex,
  };
}
