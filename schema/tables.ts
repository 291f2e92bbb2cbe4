import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** One immutable version of a hub model; bytes live in R2 under `models/<sha256>`. */
export const modelVersions = sqliteTable(
  'model_versions',
  {
    name: text('name').notNull(),
    version: integer('version').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    /** JSON TensorSpec[] read from the ONNX graph. */
    inputs: text('inputs').notNull(),
    outputs: text('outputs').notNull(),
    /** Price per call in the payment asset's atomic units, as a decimal string (uint256 does not fit SQLite integers). */
    price: text('price').notNull().default('0'),
    /** When a priced call's payment settles: before the result is returned, or after it. */
    settlement: text('settlement', { enum: ['sync', 'async'] })
      .notNull()
      .default('sync'),
    createdAt: integer('created_at').notNull(),
    /**
     * `fixed`: every call costs `price`. `metered`: a call costs `min(price, priceBase + pricePerMs ×
     * its run time in ms)`, `price` being the cap (decimal strings, atomic units).
     */
    pricing: text('pricing', { enum: ['fixed', 'metered'] })
      .notNull()
      .default('fixed'),
    pricePerMs: text('price_per_ms').notNull().default('0'),
    priceBase: text('price_base').notNull().default('0'),
    /** Quorum inference (migration 0010): the quorum an attestation needs, in basis points of operator stake. */
    quorumThresholdBps: integer('quorum_threshold_bps').notNull().default(6700),
    /** How far operators' float outputs may be from the reference and still agree (decimal text of a float64). */
    toleranceAbsolute: text('tolerance_absolute').notNull().default('0'),
    toleranceRelative: text('tolerance_relative').notNull().default('0'),
  },
  (t) => [primaryKey({ columns: [t.name, t.version] }), index('model_versions_sha256').on(t.sha256)],
);

/** A GPU backend attached by an operator; its id is its lower-case Ethereum address. */
export const backends = sqliteTable('backends', {
  id: text('id').primaryKey(),
  address: text('address').notNull(),
  url: text('url').notNull(),
  executionProvider: text('execution_provider').notNull(),
  /** JSON: "*" (any hub model) or a list of model sha256s the backend serves. */
  models: text('models').notNull().default('"*"'),
  status: text('status', { enum: ['active', 'disabled'] })
    .notNull()
    .default('active'),
  registeredAt: integer('registered_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** A verified inference receipt, stored only after its signature was checked. */
export const receipts = sqliteTable(
  'receipts',
  {
    requestId: text('request_id').primaryKey(),
    model: text('model').notNull(),
    version: integer('version').notNull(),
    modelSha256: text('model_sha256').notNull(),
    inputHash: text('input_hash').notNull(),
    outputHash: text('output_hash').notNull(),
    backend: text('backend').notNull(),
    executionProvider: text('execution_provider').notNull(),
    issuedAt: integer('issued_at').notNull(),
    timings: text('timings').notNull(),
    signature: text('signature').notNull(),
    createdAt: integer('created_at').notNull().default(sql`(unixepoch() * 1000)`),
    /**
     * A version 2 receipt's signed fields beyond version 1's (core/receipts: policy, billed run time,
     * pricing terms, charge, payment identity); all null for a version 1 receipt.
     */
    policyId: text('policy_id'),
    runMs: integer('run_ms'),
    priceBase: text('price_base'),
    pricePerMs: text('price_per_ms'),
    priceCap: text('price_cap'),
    charged: text('charged'),
    paymentScheme: text('payment_scheme'),
    paymentNetwork: text('payment_network'),
    paymentAsset: text('payment_asset'),
    payer: text('payer'),
    paymentNonce: text('payment_nonce'),
  },
  (t) => [index('receipts_backend').on(t.backend), index('receipts_model').on(t.model, t.version)],
);

/**
 * One x402 payment authorization seen by the gateway, keyed by the authorization's on-chain slot
 * (network, asset, payer, nonce). A mirror of the payer's NonceLedger Durable Object, which is the
 * authority. States: reserved → settling → settled | pending | released; pending → settled | failed;
 * reserved → released (the call failed, or the reservation expired unused).
 */
export const payments = sqliteTable(
  'payments',
  {
    id: text('id').primaryKey(),
    nonceKey: text('nonce_key').notNull().unique(),
    network: text('network').notNull(),
    asset: text('asset').notNull(),
    payer: text('payer').notNull(),
    payTo: text('pay_to').notNull(),
    /** What the payer authorized: the exact price, or an `upto` payment's maximum. */
    amount: text('amount').notNull(),
    nonce: text('nonce').notNull(),
    model: text('model').notNull(),
    version: integer('version').notNull(),
    requestId: text('request_id'),
    state: text('state', { enum: ['reserved', 'settling', 'pending', 'settled', 'released', 'failed'] }).notNull(),
    settlement: text('settlement', { enum: ['sync', 'async'] }).notNull(),
    transaction: text('transaction'),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    /** x402 scheme: `exact` (the amount) or `upto` (at most the amount, charged after the call). */
    scheme: text('scheme', { enum: ['exact', 'upto'] })
      .notNull()
      .default('exact'),
    /** What was (or is being) charged, once decided; null while only reserved. */
    charged: text('charged'),
    /** The client's x402 `payment-identifier`, and the hash of the request it paid for. */
    paymentIdentifier: text('payment_identifier'),
    requestHash: text('request_hash'),
    /** Settlement attempts so far, and when the ledger looks at this payment next (ms), while it is open. */
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at'),
  },
  (t) => [index('payments_payer').on(t.payer), index('payments_identifier').on(t.payer, t.paymentIdentifier)],
);
