import { DurableObject } from 'cloudflare:workers';
import type { PaymentPayload, PaymentRequirements } from '@x402/core/types';
import { drizzle } from 'drizzle-orm/d1';
import type { Address, Hex } from 'viem';
import { readAuthorizationUse, settleWithFacilitator, type AssetTransferMethod, type EvmScheme } from '../core/x402';
import { payments } from '../schema';

/** The states of a payment (see README, Payments). */
export type PaymentState = (typeof payments.$inferSelect)['state'];

/** Everything the ledger keeps of a reserved payment authorization, and what settling it needs. */
export interface PaymentReservation extends ReservationRef {
  recordId: string;
  /** The client's `payment-identifier` (idempotency key), if it sent one. */
  paymentIdentifier: string | null;
  /** Hash of what was bought (model, version, price, inputs): a payment id replays only the same request. */
  requestHash: string;
  payer: string;
  network: string;
  asset: string;
  payTo: string;
  scheme: EvmScheme;
  method: AssetTransferMethod;
  /** What the payer authorized: the exact price, or the maximum of an `upto` payment. */
  amount: string;
  nonce: string;
  /** The authorization's deadline (unix seconds, decimal): after it, an unused authorization can never settle. */
  validBefore: string;
  model: string;
  version: number;
  settlement: 'sync' | 'async';
  /** The x402 v2 payload and requirements the edge verified, as the facilitator is sent them. */
  payload: PaymentPayload;
  requirements: PaymentRequirements;
  facilitatorUrl: string;
  /** Where the ledger reads the authorization's state when it must resolve a payment against the chain. */
  rpcUrl: string;
  settleTimeoutMs: number;
  /** How long a reservation may stay unresolved before the ledger resolves it against the chain. */
  reservationTtlMs: number;
}

/**
 * One reservation of an authorization. An authorization released (its call failed, or its reservation
 * expired) may be reserved again by a later call; the id keeps a late answer of the earlier call from
 * settling or releasing the later call's reservation.
 */
export interface ReservationRef {
  nonceKey: string;
  /** Unique per reservation (the Worker draws it when it reserves). */
  reservationId: string;
}

/** What the chain said about the payer, read by the Worker just before it reserves (atomic units, decimal). */
export interface PayerCredit {
  balance: string;
  /** The payer's ERC-20 allowance to Permit2 (Permit2 payments only). */
  permit2Allowance: string | null;
  /** When the read started (ms): settlements recorded since then may not show in `balance` yet. */
  readAt: number;
}

/** A delivered call's result (JSON, without its `payment` part), kept for payment-identifier retries: inline, or in R2 by hash. */
export interface StoredReply {
  body?: string;
  /** R2 key of the body (`replies/<sha256>`) when it is too large for Durable Object storage. */
  bodyRef?: string;
}

/** A payment as a caller's reply and a retry's reply show it. */
export interface PaymentView {
  id: string;
  scheme: EvmScheme;
  state: PaymentState;
  /** What the payer authorized (the exact price, or the `upto` maximum). */
  maxAmount: string;
  /** What is charged, once decided. */
  charged: string | null;
  transaction: string | null;
}

/** Outcome of `lookup`: what an earlier use of this authorization or payment-identifier decides, if anything. */
export type LookupOutcome =
  | { outcome: 'none' }
  | { outcome: 'cached'; reply: StoredReply; payment: PaymentView; network: string; payer: string }
  | { outcome: 'replay'; state: PaymentState; recordId: string; delivered: boolean }
  | { outcome: 'in_progress'; recordId: string }
  | { outcome: 'identifier_conflict' };

/** Outcome of `reserve`. */
export type ReserveOutcome =
  | Exclude<LookupOutcome, { outcome: 'none' }>
  | { outcome: 'reserved' }
  | { outcome: 'insufficient_credit'; balance: string; outstanding: string; needed: string };

/** Outcome of `settle` and `defer`. */
export type SettleResult =
  | { outcome: 'settled'; payment: PaymentView }
  | { outcome: 'pending'; payment: PaymentView }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'not_reserved'; state: PaymentState | null };

/** What a call is charged after it ran, and the result it delivered. */
export interface Delivery {
  requestId: string;
  reply: StoredReply;
  /** Atomic units, decimal; ≤ the authorized amount (= it for `exact`). 0 settles with no transaction. */
  charge: string;
}

type LedgerEnv = { DB: D1Database; MODELS: R2Bucket; REPLIES?: R2Bucket };

interface Row extends Record<string, SqlStorageValue> {
  nonce_key: string;
  record_id: string;
  payment_identifier: string | null;
  request_hash: string;
  state: PaymentState;
  reservation: string;
  amount: string;
  method: string;
  charge: string | null;
  transaction: string | null;
  request_id: string | null;
  reply: string | null;
  error: string | null;
  attempts: number;
  next_attempt_at: number | null;
  settled_at: number | null;
  valid_before: string;
  mirror_dirty: number;
  created_at: number;
}

/** At most this many payments are worked on per alarm run (each settlement may take its timeout). */
const ACTIONS_PER_ALARM = 8;
/** The longest wait between two settlement attempts of a pending payment. */
const MAX_BACKOFF_MS = 10 * 60_000;
/** Settled and refused payments are kept this long for payment-identifier retries, then forgotten here (D1 keeps the record). */
const RETENTION_MS = 24 * 3600_000;
/** How far the Worker's and this object's clocks may disagree when deciding which settlements a balance read saw. */
const CLOCK_SKEW_MS = 2_000;
/** Time given to a sync settlement beyond its timeout before the alarm takes it over. */
const SETTLE_GRACE_MS = 15_000;

const OPEN_STATES = "('reserved', 'settling', 'pending')";
const backoff = (attempts: number) => Math.min(1000 * 2 ** attempts, MAX_BACKOFF_MS);

/**
 * Single use, credit and settlement of a payer's x402 authorizations. One instance per payer: every
 * authorization the payer signs is decided here, serially, so reserving `(network, asset, payer,
 * nonce)` and the credit check are atomic under any concurrency. A reservation is made before any
 * work and only if the payer's balance covers it and everything already reserved or pending; a failed
 * call releases it; a delivered call is settled (sync: right away, by this object, so a client's
 * disconnect cannot stop it) or left pending and settled by this object's alarm, with retries and no
 * silent cap, until the chain says it settled or never can. A reservation no call resolves expires
 * through the alarm. Every transition is mirrored to D1 `payments` (GET /v1/payments/{id}).
 */
export class NonceLedger extends DurableObject<LedgerEnv> {
  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS ledger (
      nonce_key TEXT PRIMARY KEY, record_id TEXT NOT NULL, payment_identifier TEXT, request_hash TEXT NOT NULL,
      state TEXT NOT NULL, reservation TEXT NOT NULL, amount TEXT NOT NULL, method TEXT NOT NULL, charge TEXT,
      "transaction" TEXT, request_id TEXT, reply TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at INTEGER, settled_at INTEGER, valid_before TEXT NOT NULL, mirror_dirty INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL)`);
    ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS ledger_identifier ON ledger (payment_identifier)');
    ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS ledger_due ON ledger (next_attempt_at)');
  }

  /** What an earlier use of this authorization or payment-identifier decides for a new request, without changing anything. */
  lookup(q: { nonceKey: string; paymentIdentifier: string | null; requestHash: string }): LookupOutcome {
    if (q.paymentIdentifier) {
      const prior = this.one(
        'SELECT * FROM ledger WHERE payment_identifier = ? AND state != ? ORDER BY created_at DESC LIMIT 1',
        q.paymentIdentifier,
        'released',
      );
      if (prior) {
        if (prior.request_hash !== q.requestHash) return { outcome: 'identifier_conflict' };
        // A sync payment being settled has not paid yet: its result waits for the settlement.
        if (prior.state === 'reserved' || prior.state === 'settling') return { outcome: 'in_progress', recordId: prior.record_id };
        if (prior.reply) {
          const r = reservationOf(prior);
          return { outcome: 'cached', reply: JSON.parse(prior.reply) as StoredReply, payment: viewOf(prior), network: r.network, payer: r.payer };
        }
        // Never delivered (its reservation expired): a new payment may buy the call.
      }
    }
    const existing = this.one('SELECT * FROM ledger WHERE nonce_key = ?', q.nonceKey);
    if (!existing || existing.state === 'released') return { outcome: 'none' };
    if (existing.state === 'reserved' || existing.state === 'settling') return { outcome: 'in_progress', recordId: existing.record_id };
    // `delivered`: this very request was answered with this authorization; its payer can fetch that answer again.
    const delivered = existing.request_hash === q.requestHash && deliveredReply(existing) !== null;
    return { outcome: 'replay', state: existing.state, recordId: existing.record_id, delivered };
  }

  /**
   * The answer a used payment authorization bought, for its payer: found by the payment's record id
   * and released only to whoever presents the authorization's own signature (which the edge verified
   * when it reserved it), so a lost answer is never lost to the payer and never given to anyone else.
   */
  deliveredResult(recordId: string, signature: string): { reply: StoredReply; payment: PaymentView; network: string; payer: string } | null {
    const row = this.one('SELECT * FROM ledger WHERE record_id = ?', recordId);
    if (!row) return null;
    const r = reservationOf(row);
    const signed = (r.payload.payload as { signature?: unknown }).signature;
    if (typeof signed !== 'string' || signed.toLowerCase() !== signature.toLowerCase()) return null;
    const reply = deliveredReply(row);
    return reply ? { reply, payment: viewOf(row), network: r.network, payer: r.payer } : null;
  }

  /**
   * Reserves an authorization for one call if nothing earlier decides otherwise and the payer's credit
   * covers it: balance (and, for Permit2, allowance) ≥ this amount + every open payment + what settled
   * since the balance was read. Writes nothing when it refuses.
   */
  async reserve(r: PaymentReservation, credit: PayerCredit): Promise<ReserveOutcome> {
    const prior = this.lookup(r);
    if (prior.outcome !== 'none') return prior;
    const needed = BigInt(r.amount);
    const outstanding = this.outstanding(r.asset, credit.readAt, null);
    if (BigInt(credit.balance) < outstanding + needed) {
      return { outcome: 'insufficient_credit', balance: credit.balance, outstanding: outstanding.toString(), needed: needed.toString() };
    }
    if (r.method === 'permit2') {
      const viaPermit2 = this.outstanding(r.asset, credit.readAt, 'permit2');
      if (BigInt(credit.permit2Allowance ?? '0') < viaPermit2 + needed) {
        return {
          outcome: 'insufficient_credit',
          balance: credit.permit2Allowance ?? '0',
          outstanding: viaPermit2.toString(),
          needed: needed.toString(),
        };
      }
    }
    const now = Date.now();
    const expiresAt = now + r.reservationTtlMs;
    this.ctx.storage.sql.exec(
      `INSERT INTO ledger (nonce_key, record_id, payment_identifier, request_hash, state, reservation, amount, method, charge, "transaction",
         request_id, reply, error, attempts, next_attempt_at, settled_at, valid_before, mirror_dirty, created_at)
       VALUES (?, ?, ?, ?, 'reserved', ?, ?, ?, NULL, NULL, NULL, NULL, NULL, 0, ?, NULL, ?, 0, ?)
       ON CONFLICT(nonce_key) DO UPDATE SET payment_identifier = excluded.payment_identifier, request_hash = excluded.request_hash,
         state = 'reserved', reservation = excluded.reservation, amount = excluded.amount, method = excluded.method, charge = NULL,
         "transaction" = NULL, request_id = NULL, reply = NULL, error = NULL, attempts = 0, next_attempt_at = excluded.next_attempt_at,
         settled_at = NULL, valid_before = excluded.valid_before, created_at = excluded.created_at`,
      r.nonceKey,
      r.recordId,
      r.paymentIdentifier,
      r.requestHash,
      JSON.stringify(r),
      r.amount,
      r.method,
      expiresAt,
      r.validBefore,
      now,
    );
    await this.scheduleAlarm(expiresAt);
    await this.mirror(r.nonceKey);
    return { outcome: 'reserved' };
  }

  /** Frees a reservation whose call failed: nothing was submitted, the authorization is usable again. */
  async release(ref: ReservationRef, reason: string): Promise<void> {
    if (!this.reserved(ref)) return;
    const { nonceKey } = ref;
    this.update(nonceKey, { state: 'released', error: reason, next_attempt_at: Date.now() + RETENTION_MS });
    await this.mirror(nonceKey);
  }

  /**
   * Charges a delivered call now (sync settlement) and says how it went: settled; refused by the
   * facilitator (released: nothing moved, the caller must not get the result); or open (pending: the
   * caller gets the result, this object keeps settling). The state is `settling` while the facilitator
   * is asked, so if this object is interrupted, the alarm takes the payment over as pending.
   */
  async settle(ref: ReservationRef, delivery: Delivery): Promise<SettleResult> {
    const row = this.reserved(ref);
    if (!row) return this.notReserved(ref);
    const { nonceKey } = ref;
    checkCharge(row, delivery.charge);
    const r = reservationOf(row);
    const now = Date.now();
    const base = { request_id: delivery.requestId, reply: JSON.stringify(delivery.reply), charge: delivery.charge };
    if (BigInt(delivery.charge) === 0n) return this.recordSettled(nonceKey, { ...base, transaction: null });
    const backstop = now + r.settleTimeoutMs + SETTLE_GRACE_MS;
    // Not mirrored before asking (D1 shows it reserved meanwhile): one D1 write less on the answer's
    // path; the outcome is mirrored below, or by the alarm if this object is interrupted.
    this.update(nonceKey, { ...base, state: 'settling', attempts: 1, next_attempt_at: backstop });
    await this.scheduleAlarm(backstop);

    const result = await settleWithFacilitator(r.facilitatorUrl, r.payload, { ...r.requirements, amount: delivery.charge }, r.settleTimeoutMs);
    const current = this.one('SELECT * FROM ledger WHERE nonce_key = ?', nonceKey);
    // The alarm took over (this call outlived its backstop): its state is the truth.
    if (current?.state !== 'settling') return current ? this.resultOf(current) : { outcome: 'not_reserved', state: null };
    if (result.outcome === 'settled') return this.recordSettled(nonceKey, { transaction: result.transaction });
    if (result.outcome === 'refused') {
      this.update(nonceKey, {
        state: 'released',
        reply: null,
        error: `settlement refused: ${result.reason}`,
        next_attempt_at: Date.now() + RETENTION_MS,
      });
      await this.mirror(nonceKey);
      await this.deleteReply(row.reply ?? base.reply);
      return { outcome: 'refused', reason: result.reason };
    }
    this.update(nonceKey, { state: 'pending', error: result.error, next_attempt_at: Date.now() + backoff(1) });
    await this.scheduleAlarm(Date.now() + backoff(1));
    await this.mirror(nonceKey);
    return this.resultOf(this.one('SELECT * FROM ledger WHERE nonce_key = ?', nonceKey) as Row);
  }

  /** Records a delivered call whose payment settles after the answer (async): pending, settled by the alarm right away. */
  async defer(ref: ReservationRef, delivery: Delivery): Promise<SettleResult> {
    const row = this.reserved(ref);
    if (!row) return this.notReserved(ref);
    const { nonceKey } = ref;
    checkCharge(row, delivery.charge);
    const base = { request_id: delivery.requestId, reply: JSON.stringify(delivery.reply), charge: delivery.charge };
    if (BigInt(delivery.charge) === 0n) return this.recordSettled(nonceKey, { ...base, transaction: null });
    const due = Date.now();
    this.update(nonceKey, { ...base, state: 'pending', next_attempt_at: due });
    await this.scheduleAlarm(due);
    await this.mirror(nonceKey);
    return this.resultOf(this.one('SELECT * FROM ledger WHERE nonce_key = ?', nonceKey) as Row);
  }

  /**
   * Works through what is due, a bounded number of payments per run: expired reservations are resolved
   * against the chain, pending payments are settled (retried with backoff, without a cap, until the
   * facilitator settles or refuses, or the chain shows the authorization expired unused), old finished
   * ones are forgotten, and D1 mirrors that failed are written again. Always reschedules itself.
   */
  override async alarm(): Promise<void> {
    try {
      const now = Date.now();
      const due = this.ctx.storage.sql
        .exec<Row>('SELECT * FROM ledger WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?', now, ACTIONS_PER_ALARM)
        .toArray();
      for (const row of due) {
        try {
          await this.act(row);
        } catch (err) {
          // One payment's trouble (storage, chain, facilitator) must not stall the others: try it again later.
          console.error(`ledger: ${row.record_id}: ${err instanceof Error ? err.message : String(err)}`);
          this.update(row.nonce_key, { next_attempt_at: Date.now() + backoff(row.attempts + 1) }, false);
        }
      }
      const dirty = this.ctx.storage.sql.exec<Row>('SELECT * FROM ledger WHERE mirror_dirty = 1 LIMIT ?', ACTIONS_PER_ALARM * 2).toArray();
      for (const row of dirty) await this.mirror(row.nonce_key);
    } finally {
      await this.rescheduleAlarm();
    }
  }

  private async act(row: Row): Promise<void> {
    const r = reservationOf(row);
    const now = Date.now();
    switch (row.state) {
      case 'reserved': {
        // No call resolved it: it was never submitted, unless someone used the authorization on chain.
        const { used } = await readAuthorizationUse(r.rpcUrl, slotOf(r));
        if (used) {
          this.update(row.nonce_key, {
            state: 'pending',
            charge: row.amount,
            error: 'reservation expired; the authorization was used on chain',
            next_attempt_at: now,
          });
        } else {
          this.update(row.nonce_key, {
            state: 'released',
            error: 'reservation expired: the call never finished',
            next_attempt_at: now + RETENTION_MS,
          });
        }
        break;
      }
      case 'settling':
        // The sync settlement that set this never reported back: its outcome is open.
        this.update(row.nonce_key, { state: 'pending', error: 'sync settlement interrupted', next_attempt_at: now });
        await this.attemptSettlement(this.one('SELECT * FROM ledger WHERE nonce_key = ?', row.nonce_key) as Row);
        break;
      case 'pending':
        await this.attemptSettlement(row);
        break;
      default: {
        // Finished: forget it once its authorization can no longer be presented (expired) and retries are over.
        if (BigInt(Math.floor(now / 1000)) > BigInt(row.valid_before) + 60n) {
          this.ctx.storage.sql.exec('DELETE FROM ledger WHERE nonce_key = ?', row.nonce_key);
          await this.deleteReply(row.reply);
          return;
        }
        this.update(row.nonce_key, { next_attempt_at: now + RETENTION_MS }, false);
        return;
      }
    }
    await this.mirror(row.nonce_key);
  }

  private async attemptSettlement(row: Row): Promise<void> {
    const r = reservationOf(row);
    const charge = row.charge ?? row.amount;
    const attempts = row.attempts + 1;
    const result = await settleWithFacilitator(
      r.facilitatorUrl,
      r.payload,
      { ...r.requirements, amount: charge },
      Math.min(r.settleTimeoutMs, 30_000),
    );
    if (result.outcome === 'settled') {
      await this.recordSettled(row.nonce_key, { transaction: result.transaction, attempts });
      return;
    }
    if (result.outcome === 'refused') {
      this.update(row.nonce_key, {
        state: 'failed',
        attempts,
        error: `settlement refused: ${result.reason}`,
        next_attempt_at: Date.now() + RETENTION_MS,
      });
      return;
    }
    // Open outcome: the chain tells "not yet" from "never" (an unused authorization past its deadline).
    let error = result.error;
    try {
      const { used, chainTime } = await readAuthorizationUse(r.rpcUrl, slotOf(r));
      if (!used && chainTime > BigInt(r.validBefore)) {
        this.update(row.nonce_key, {
          state: 'failed',
          attempts,
          error: `the authorization expired unused after ${attempts} attempts (last: ${result.error})`,
          next_attempt_at: Date.now() + RETENTION_MS,
        });
        return;
      }
    } catch {
      error = `${error}; the chain could not be read`;
    }
    this.update(row.nonce_key, { state: 'pending', attempts, error, next_attempt_at: Date.now() + backoff(attempts) });
  }

  private async recordSettled(nonceKey: string, fields: Partial<Row>): Promise<SettleResult> {
    const now = Date.now();
    this.update(nonceKey, { ...fields, state: 'settled', error: null, settled_at: now, next_attempt_at: now + RETENTION_MS });
    await this.mirror(nonceKey);
    return this.resultOf(this.one('SELECT * FROM ledger WHERE nonce_key = ?', nonceKey) as Row);
  }

  private resultOf(row: Row): SettleResult {
    if (row.state === 'settled') return { outcome: 'settled', payment: viewOf(row) };
    if (row.state === 'pending' || row.state === 'settling') return { outcome: 'pending', payment: { ...viewOf(row), state: 'pending' } };
    if (row.state === 'released') return { outcome: 'refused', reason: row.error ?? 'released' };
    return { outcome: 'not_reserved', state: row.state };
  }

  // Amounts the payer may still be charged, in atomic units of `asset`: open payments at what they may
  // cost, plus settlements recorded since the Worker's balance read began (it may not have seen them).
  private outstanding(asset: string, readAt: number, method: AssetTransferMethod | null): bigint {
    const rows = this.ctx.storage.sql
      .exec<Row>(
        `SELECT * FROM ledger WHERE (state IN ${OPEN_STATES} OR (state = 'settled' AND settled_at >= ?)) ${method ? 'AND method = ?' : ''}`,
        readAt - CLOCK_SKEW_MS,
        ...(method ? [method] : []),
      )
      .toArray();
    let sum = 0n;
    for (const row of rows) {
      if (reservationOf(row).asset.toLowerCase() !== asset.toLowerCase()) continue;
      sum += BigInt(row.state === 'reserved' ? row.amount : (row.charge ?? row.amount));
    }
    return sum;
  }

  // Changes a row; `mirrored` says whether D1 shows the change (then the row is marked until mirrored).
  private update(nonceKey: string, fields: Partial<Row>, mirrored = true): void {
    const entries = Object.entries(fields);
    if (entries.length === 0) return;
    this.ctx.storage.sql.exec(
      `UPDATE ledger SET ${entries.map(([k]) => `"${k}" = ?`).join(', ')}${mirrored ? ', mirror_dirty = 1' : ''} WHERE nonce_key = ?`,
      ...entries.map(([, v]) => v as SqlStorageValue),
      nonceKey,
    );
  }

  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private async rescheduleAlarm(): Promise<void> {
    const next = this.ctx.storage.sql.exec<{ at: number | null }>('SELECT MIN(next_attempt_at) AS at FROM ledger').one().at;
    const dirty = this.ctx.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM ledger WHERE mirror_dirty = 1').one().n;
    const at = dirty > 0 ? Math.min(next ?? Number.POSITIVE_INFINITY, Date.now() + 5_000) : next;
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  // The row of this very reservation while it is still reserved; not a later reservation of the same authorization.
  private reserved(ref: ReservationRef): Row | undefined {
    const row = this.one("SELECT * FROM ledger WHERE nonce_key = ? AND state = 'reserved'", ref.nonceKey);
    return row && reservationOf(row).reservationId === ref.reservationId ? row : undefined;
  }

  // Why `ref` can no longer be settled: its row's state, or `released` when the authorization was
  // reserved again since (a reservation ends released before its authorization can be reserved anew).
  private notReserved(ref: ReservationRef): SettleResult {
    const row = this.one('SELECT * FROM ledger WHERE nonce_key = ?', ref.nonceKey);
    if (!row) return { outcome: 'not_reserved', state: null };
    return { outcome: 'not_reserved', state: reservationOf(row).reservationId === ref.reservationId ? row.state : 'released' };
  }

  private one(query: string, ...params: SqlStorageValue[]): Row | undefined {
    return this.ctx.storage.sql.exec<Row>(query, ...params).toArray()[0];
  }

  private async deleteReply(reply: string | null): Promise<void> {
    const ref = reply ? (JSON.parse(reply) as StoredReply).bodyRef : undefined;
    if (ref) await (this.env.REPLIES ?? this.env.MODELS).delete(ref).catch(() => undefined);
  }

  // D1 is the queryable record (GET /v1/payments/{id}); this object's storage is the authority. A
  // failed write leaves the row marked and the alarm writes it again, so D1 catches up.
  private async mirror(nonceKey: string): Promise<void> {
    const row = this.one('SELECT * FROM ledger WHERE nonce_key = ?', nonceKey);
    if (!row) return;
    const r = reservationOf(row);
    const now = Date.now();
    const open = row.state === 'reserved' || row.state === 'settling' || row.state === 'pending';
    const values = {
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
      requestId: row.request_id,
      state: row.state,
      settlement: r.settlement,
      transaction: row.transaction,
      error: row.error,
      scheme: r.scheme,
      charged: row.charge,
      paymentIdentifier: r.paymentIdentifier,
      requestHash: r.requestHash,
      attempts: row.attempts,
      nextAttemptAt: open ? row.next_attempt_at : null,
      createdAt: row.created_at,
      updatedAt: now,
    };
    try {
      const { id: _id, nonceKey: _nk, createdAt: _c, ...set } = values;
      await drizzle(this.env.DB).insert(payments).values(values).onConflictDoUpdate({ target: payments.id, set });
      this.ctx.storage.sql.exec('UPDATE ledger SET mirror_dirty = 0 WHERE nonce_key = ?', nonceKey);
    } catch (err) {
      console.error(`ledger: mirroring ${r.recordId} to D1 failed; the alarm retries: ${err instanceof Error ? err.message : String(err)}`);
      await this.scheduleAlarm(Date.now() + 5_000);
    }
  }
}

// The stored answer of a call that was delivered and is paid or being paid (never of a released or failed one).
function deliveredReply(row: Row): StoredReply | null {
  if (row.state !== 'pending' && row.state !== 'settled') return null;
  return row.reply ? (JSON.parse(row.reply) as StoredReply) : null;
}

function reservationOf(row: Row): PaymentReservation {
  return JSON.parse(row.reservation) as PaymentReservation;
}

function slotOf(r: PaymentReservation) {
  return { method: r.method, asset: r.asset as Address, payer: r.payer as Address, nonce: r.nonce as Hex };
}

function viewOf(row: Row): PaymentView {
  const r = reservationOf(row);
  return { id: row.record_id, scheme: r.scheme, state: row.state, maxAmount: row.amount, charged: row.charge, transaction: row.transaction };
}

// A charge above what was authorized cannot settle; `exact` settles exactly its amount. Either is a
// bug in the caller, not something a payer can cause.
function checkCharge(row: Row, charge: string): void {
  if (!/^(0|[1-9][0-9]*)$/.test(charge)) throw new Error(`charge ${charge} is not an amount`);
  const max = BigInt(row.amount);
  const c = BigInt(charge);
  if (c > max || (reservationOf(row).scheme === 'exact' && c !== max)) {
    throw new Error(`charge ${charge} does not fit the authorization (${reservationOf(row).scheme}, ${row.amount})`);
  }
}

/** The ledger instance of a payer. */
export function nonceLedger(ns: DurableObjectNamespace<NonceLedger>, payer: string): DurableObjectStub<NonceLedger> {
  return ns.get(ns.idFromName(payer.toLowerCase()));
}
