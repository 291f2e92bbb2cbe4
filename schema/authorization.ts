import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * An operator's signer node as registered at the gateway: its BLS12-381 key (admitted with a proof of
 * possession), where the gateway reaches it, and nothing about stake: membership and stake come from
 * the OperatorRegistry contract on chain, snapshotted per task.
 */
export const operators = sqliteTable('operators', {
  id: text('id').primaryKey(),
  /** 48-byte compressed G1 public key, lower-case 0x-hex; one operator per key. */
  blsPublicKey: text('bls_public_key').notNull().unique(),
  proofOfPossession: text('proof_of_possession').notNull(),
  url: text('url').notNull(),
  /** Optional Ethereum address the operator is paid at or known by. */
  address: text('address'),
  registeredAt: integer('registered_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** A PolicyData WebAssembly module, stored in R2 under `policy-data/<sha256>`. */
export const policyDataModules = sqliteTable('policy_data', {
  sha256: text('sha256').primaryKey(),
  size: integer('size').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** An authorization task (an intent under a policy); its live state is in its TaskQuorum Durable Object. */
export const tasks = sqliteTable(
  'tasks',
  {
    id: text('id').primaryKey(),
    policyId: text('policy_id').notNull(),
    intentHash: text('intent_hash').notNull(),
    chainId: integer('chain_id').notNull(),
    expiration: integer('expiration').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('tasks_policy').on(t.policyId)],
);

/**
 * Intents per unauthenticated caller per fixed window: the rate limit's fallback where the Workers
 * Rate Limiting binding is absent (wrangler dev). Old windows are deleted as new ones start.
 */
export const intentRateLimits = sqliteTable(
  'intent_rate_limits',
  {
    caller: text('caller').notNull(),
    /** Epoch ms at which the window starts. */
    windowStart: integer('window_start').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [primaryKey({ columns: [t.caller, t.windowStart] }), index('intent_rate_limits_window').on(t.windowStart)],
);
