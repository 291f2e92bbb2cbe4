import { integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * A policy client's secrets for one PolicyData binary, sealed under a key derived from the
 * gateway's secret (workers/intents/policy-data-secrets.ts). Created by the hand-written migration
 * 0008_policy_data_secrets.sql, which is its source of truth: it is kept out of schema/index.ts so
 * that drizzle-kit, which has no snapshot of it, does not generate it a second time.
 */
export const policyDataSecrets = sqliteTable(
  'policy_data_secrets',
  {
    /** Lower-case address of the policy client. */
    policyClient: text('policy_client').notNull(),
    /** 0x sha256 of the PolicyData binary. */
    policyData: text('policy_data').notNull(),
    /** 0x-hex of the IV and the AES-256-GCM ciphertext of the secrets' JSON. */
    sealed: text('sealed').notNull(),
    /** JSON array of the secrets' names (not secret: shown to the admin). */
    names: text('names').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.policyClient, t.policyData] })],
);
