import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** A Rego policy; its id is the sha256 of its canonical content, so the same policy has one id everywhere. */
export const policies = sqliteTable('policies', {
  id: text('id').primaryKey(),
  /** JSON {file name: Rego source}. */
  modules: text('modules').notNull(),
  /** Package path whose `allow` (and optional `deny` set) decide, e.g. "data.proofgate.admission". */
  entrypoint: text('entrypoint').notNull(),
  /** JSON, exposed to the policy as `data.params`. */
  params: text('params').notNull(),
  /** JSON [{name, sha256}] of PolicyData modules, whose outputs become `data.wasm.<name>`. */
  policyData: text('policy_data').notNull(),
  thresholdBps: integer('threshold_bps').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** Which policy admits calls to a model (at most one per model name, all versions). */
export const modelPolicies = sqliteTable('model_policies', {
  model: text('model').primaryKey(),
  policyId: text('policy_id')
    .notNull()
    .references(() => policies.id),
  createdAt: integer('created_at').notNull(),
});

/** API keys that identify callers; only the sha256 of the key is stored. */
export const apiKeys = sqliteTable('api_keys', {
  id: text('id').primaryKey(),
  keyHash: text('key_hash').notNull().unique(),
  label: text('label').notNull(),
  createdAt: integer('created_at').notNull(),
});
