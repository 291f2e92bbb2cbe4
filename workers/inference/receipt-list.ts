import { desc, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import type { InferenceReceipt } from '../../core/receipts';
import { receipts } from '../../schema';
import { receiptOfRow } from './receipt-store';

/** A stored receipt and when the gateway recorded it. */
export type ListedReceipt = InferenceReceipt & { createdAt: string };

/** Most receipts one listing returns. */
export const MAX_RECEIPT_LIST = 100;

/** The most recently stored receipts, newest first, optionally of one model (the explorer's live view). */
export async function listRecentReceipts(db: D1Database, options: { limit: number; model?: string }): Promise<ListedReceipt[]> {
  const query = drizzle(db).select().from(receipts);
  const rows = await (options.model !== undefined ? query.where(eq(receipts.model, options.model)) : query)
    .orderBy(desc(receipts.createdAt), desc(receipts.requestId))
    .limit(Math.min(options.limit, MAX_RECEIPT_LIST));
  return rows.map((r) => ({ ...receiptOfRow(r), createdAt: new Date(r.createdAt).toISOString() }));
}
