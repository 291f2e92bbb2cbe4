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
  },
  (t) => [index('receipts_backend').on(t.backend), index('receipts_model').on(t.model, t.version)],
);

/**
 * One x402 payment authorization seen by the gateway, keyed by the authorization's on-chain slot
 * (network, asset, payer, nonce). States: reserved → settled | pending → settled | released | failed.
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
    amount: text('amount').notNull(),
    nonce: text('nonce').notNull(),
    model: text('model').notNull(),
    version: integer('version').notNull(),
    requestId: text('request_id'),
    state: text('state', { enum: ['reserved', 'pending', 'settled', 'released', 'failed'] }).notNull(),
    settlement: text('settlement', { enum: ['sync', 'async'] }).notNull(),
    transaction: text('transaction'),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('payments_payer').on(t.payer)],
);
