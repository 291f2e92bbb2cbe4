import { DurableObject } from 'cloudflare:workers';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { settleWithFacilitator } from '../core/x402';
import { payments } from '../schema';

/** The states of a payment (see README, Payments). */
export type PaymentState = (typeof payments.$inferSelect)['state'];

/** What the ledger keeps of a payment besides its state. */
export interface PaymentReservation {
  recordId: string;
  nonceKey: string;
  /** The client's `payment-identifier` (idempotency key), if it sent one. */
  paymentIdentifier: string | null;
  /** Hash of what was bought (model, version, inputs): a payment id replays only the same request. */
  requestHash: string;
  payer: string;
  network: string;
  asset: string;
  payTo: string;
  amount: string;
  nonce: string;
  model: string;
  version: number;
  settlement: 'sync' | 'async';
  payload: PaymentPayload;
  requirements: PaymentRequirements;
  facilitatorUrl: string;
}

/** A response kept for payment-identifier replays. */
export interface CachedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Outcome of `reserve`. */
export type ReserveOutcome =
  | { outcome: 'reserved' }
  | { outcome: 'cached'; response: CachedResponse }
  | { outcome: 'replay'; state: string; recordId: string }
  | { outcome: 'in_progress'; recordId: string }
  | { outcome: 'identifier_conflict' };

interface Row extends Record<string, SqlStorageValue> {
  nonce_key: string;
  record_id: string;
  payment_identifier: string | null;
  request_hash: string;
  state: string;
  reservation: string;
  response: string | null;
  attempts: number;
  next_attempt_at: number | null;
}

const MAX_ATTEMPTS = 8;

/**
 * Single use of x402 authorizations. One instance per payer (every authorization a payer signs is
 * decided here, serially), so reserving `(network, asset, payer, nonce)` is atomic under any
 * concurrency. The reservation happens before any work; a failed call releases it (the nonce is
 * usable again); a call whose settlement is open stays pending and is settled by this object's
 * alarm, with retries, and never asked for again. Every transition is mirrored to D1 `payments`.
 */
export class NonceLedger extends DurableObject<{ DB: D1Database }> {
  constructor(ctx: DurableObjectState, env: { DB: D1Database }) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS payments (
      nonce_key TEXT PRIMARY KEY, record_id TEXT NOT NULL, payment_identifier TEXT, request_hash TEXT NOT NULL,
      state TEXT NOT NULL, reservation TEXT NOT NULL, response TEXT, attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER)`);
    ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS payments_identifier ON payments (payment_identifier)');
  }

  /** Reserves an authorization for one call, or says why not (replay, in progress, cached answer). */
  async reserve(r: PaymentReservation): Promise<ReserveOutcome> {
    if (r.paymentIdentifier) {
      const prior = this.one('SELECT * FROM payments WHERE payment_identifier = ? ORDER BY rowid DESC LIMIT 1', r.paymentIdentifier);
      if (prior && prior.state !== 'released') {
        if (prior.request_hash !== r.requestHash) return { outcome: 'identifier_conflict' };
        if (prior.response) return { outcome: 'cached', response: JSON.parse(prior.response) as CachedResponse };
        return { outcome: 'in_progress', recordId: prior.record_id };
      }
    }
    const existing = this.one('SELECT * FROM payments WHERE nonce_key = ?', r.nonceKey);
    if (existing && existing.state !== 'released') {
      return existing.state === 'reserved'
        ? { outcome: 'in_progress', recordId: existing.record_id }
        : { outcome: 'replay', state: existing.state, recordId: existing.record_id };
    }
    this.ctx.storage.sql.exec(
      `INSERT INTO payments (nonce_key, record_id, payment_identifier, request_hash, state, reservation, response, attempts, next_attempt_at)
       VALUES (?, ?, ?, ?, 'reserved', ?, NULL, 0, NULL)
       ON CONFLICT(nonce_key) DO UPDATE SET payment_identifier = excluded.payment_identifier, request_hash = excluded.request_hash,
         state = 'reserved', reservation = excluded.reservation, response = NULL, attempts = 0, next_attempt_at = NULL`,
      r.nonceKey,
      r.recordId,
      r.paymentIdentifier,
      r.requestHash,
      JSON.stringify(r),
    );
    await this.mirror(r, 'reserved', { requestId: null, transaction: null, error: null });
    return { outcome: 'reserved' };
  }

  /** Frees a reservation whose work failed or whose settlement was refused: nothing was charged. */
  async release(nonceKey: string, error: string | null): Promise<void> {
    const row = this.one("SELECT * FROM payments WHERE nonce_key = ? AND state = 'reserved'", nonceKey);
    if (!row) return;
    this.ctx.storage.sql.exec("UPDATE payments SET state = 'released' WHERE nonce_key = ?", nonceKey);
    await this.mirror(JSON.parse(row.reservation) as PaymentReservation, 'released', { error });
  }

  /** Records a settled payment and the response the caller got. */
  async settled(nonceKey: string, requestId: string, transaction: string, response: CachedResponse): Promise<void> {
    const row = this.one('SELECT * FROM payments WHERE nonce_key = ?', nonceKey);
    if (!row) return;
    this.ctx.storage.sql.exec(
      "UPDATE payments SET state = 'settled', response = ?, next_attempt_at = NULL WHERE nonce_key = ?",
      JSON.stringify(response),
      nonceKey,
    );
    await this.mirror(JSON.parse(row.reservation) as PaymentReservation, 'settled', { requestId, transaction, error: null });
  }

  /**
   * Records a delivered call whose payment is not settled yet (async mode, or a sync settlement
   * with an open outcome) and schedules the alarm that settles it.
   */
  async pending(nonceKey: string, requestId: string, response: CachedResponse, error: string | null): Promise<void> {
    const row = this.one('SELECT * FROM payments WHERE nonce_key = ?', nonceKey);
    if (!row) return;
    const due = Date.now();
    this.ctx.storage.sql.exec(
      "UPDATE payments SET state = 'pending', response = ?, next_attempt_at = ? WHERE nonce_key = ?",
      JSON.stringify(response),
      due,
      nonceKey,
    );
    await this.mirror(JSON.parse(row.reservation) as PaymentReservation, 'pending', { requestId, error });
    await this.scheduleAlarm(due);
  }

  /** Settles due pending payments; a try that cannot tell is retried with backoff, never dropped silently. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const due = this.ctx.storage.sql.exec<Row>("SELECT * FROM payments WHERE state = 'pending' AND next_attempt_at <= ?", now).toArray();
    for (const row of due) {
      const r = JSON.parse(row.reservation) as PaymentReservation;
      const result = await settleWithFacilitator(r.facilitatorUrl, r.payload, r.requirements);
      if (result.outcome === 'settled') {
        this.ctx.storage.sql.exec("UPDATE payments SET state = 'settled', next_attempt_at = NULL WHERE nonce_key = ?", row.nonce_key);
        await this.mirror(r, 'settled', { transaction: result.transaction, error: null });
      } else if (result.outcome === 'rejected' || row.attempts + 1 >= MAX_ATTEMPTS) {
        const error = result.outcome === 'rejected' ? result.reason : `gave up after ${MAX_ATTEMPTS} attempts: ${result.error}`;
        this.ctx.storage.sql.exec("UPDATE payments SET state = 'failed', next_attempt_at = NULL WHERE nonce_key = ?", row.nonce_key);
        await this.mirror(r, 'failed', { error });
      } else {
        const next = now + 1000 * 2 ** row.attempts;
        this.ctx.storage.sql.exec('UPDATE payments SET attempts = attempts + 1, next_attempt_at = ? WHERE nonce_key = ?', next, row.nonce_key);
        await this.mirror(r, 'pending', { error: result.error });
      }
    }
    const next = this.one("SELECT * FROM payments WHERE state = 'pending' ORDER BY next_attempt_at LIMIT 1");
    if (next?.next_attempt_at) await this.scheduleAlarm(next.next_attempt_at);
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private one(query: string, ...params: SqlStorageValue[]): Row | undefined {
    return this.ctx.storage.sql.exec<Row>(query, ...params).toArray()[0];
  }

  // D1 is the queryable record (GET /v1/payments/{id}); this object's storage is the authority.
  private async mirror(
    r: PaymentReservation,
    state: PaymentState,
    fields: { requestId?: string | null; transaction?: string | null; error?: string | null },
  ): Promise<void> {
    const now = Date.now();
    await drizzle(this.env.DB)
      .insert(payments)
      .values({
        id: r.recordId,
        nonceKey: r.nonceKey,
        network: r.network,
        asset: r.asset,
        payer: r.payer,
        payTo: r.payTo,
        amount: r.amount,
        nonce: r.nonce,
        model: r.model,
        version: r.version,
        requestId: fields.requestId ?? null,
        state,
        settlement: r.settlement,
        transaction: fields.transaction ?? null,
        error: fields.error ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoUpdate({
        target: payments.id,
        set: {
          state,
          model: r.model,
          version: r.version,
          amount: r.amount,
          settlement: r.settlement,
          error: fields.error ?? null,
          updatedAt: now,
          requestId: sql`coalesce(excluded.request_id, ${payments.requestId})`,
          transaction: sql`coalesce(excluded."transaction", ${payments.transaction})`,
        },
      });
  }
}

/** The ledger instance of a payer. */
export function nonceLedger(ns: DurableObjectNamespace<NonceLedger>, payer: string): DurableObjectStub<NonceLedger> {
  return ns.get(ns.idFromName(payer.toLowerCase()));
}
