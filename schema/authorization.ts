import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * A policy operator: its BLS12-381 key was admitted with a proof of possession. It stays `pending`
 * until the admin gives it stake; only `active` operators sign and count towards quorums.
 */
export const operators = sqliteTable('operators', {
  id: text('id').primaryKey(),
  /** 48-byte compressed G1 public key, lower-case 0x-hex; one operator per key. */
  blsPublicKey: text('bls_public_key').notNull().unique(),
  proofOfPossession: text('proof_of_possession').notNull(),
  url: text('url').notNull(),
  /** Optional Ethereum address the operator is paid at or known by. */
  address: text('address'),
  /** Stake weight as a decimal string (uint256 does not fit SQLite integers). */
  stake: text('stake').notNull().default('0'),
  status: text('status', { enum: ['pending', 'active', 'disabled'] })
    .notNull()
    .default('pending'),
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
