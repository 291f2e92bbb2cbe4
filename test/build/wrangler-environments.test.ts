import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unstable_readConfig } from 'wrangler';
import { REPO_ROOT } from '../../local-stack/demo-models';

// Wrangler does not inherit bindings, vars or secrets into a named environment: every one the local
// configuration (the top level) declares must be repeated in staging and production, or the
// deployed Worker runs without it. Durable Object migrations are inherited and must cover every
// bound class.

/** What this test reads of wrangler's resolved configuration. */
interface ResolvedConfig {
  name: string;
  workers_dev?: boolean;
  preview_urls?: boolean;
  routes?: unknown[];
  vars: Record<string, unknown>;
  secrets?: { required?: string[] };
  limits?: { cpu_ms?: number };
  observability?: { enabled?: boolean };
  migrations: { new_sqlite_classes?: string[]; new_classes?: string[] }[];
  d1_databases: { binding: string; database_name?: string; migrations_dir?: string }[];
  r2_buckets: { binding: string; bucket_name?: string }[];
  durable_objects: { bindings: { name: string; class_name: string; script_name?: string }[] };
  analytics_engine_datasets: { binding: string; dataset?: string }[];
  ratelimits: { name: string; namespace_id: string }[];
  kv_namespaces: { binding: string }[];
  services: { binding: string }[];
  queues: { producers: { binding: string }[] };
  assets?: { binding?: string };
}

const read = (env?: string): ResolvedConfig =>
  unstable_readConfig({ config: `${REPO_ROOT}/wrangler.toml`, ...(env ? { env } : {}) }, { hideWarnings: true }) as unknown as ResolvedConfig;

const REQUIRED_SECRETS = ['ADMIN_TOKEN', 'OPERATOR_TOKEN', 'GATEWAY_SECRET'];

function bindingNames(config: ResolvedConfig): string[] {
  return [
    ...config.d1_databases.map((b) => b.binding),
    ...config.r2_buckets.map((b) => b.binding),
    ...config.durable_objects.bindings.map((b) => `${b.name}:${b.class_name}`),
    ...config.analytics_engine_datasets.map((b) => b.binding),
    ...config.ratelimits.map((b) => b.name),
    ...config.kv_namespaces.map((b) => b.binding),
    ...config.services.map((b) => b.binding),
    ...config.queues.producers.map((b) => b.binding),
    ...(config.assets?.binding ? [config.assets.binding] : []),
  ].sort();
}

describe('wrangler.toml environments', () => {
  const local = read();

  it('keeps local development free of deployment settings', () => {
    assert.equal(local.secrets, undefined, 'wrangler dev loads every key of the stack env file');
    assert.ok(local.d1_databases.some((d) => d.binding === 'DB' && d.migrations_dir === 'schema/migrations'));
  });

  for (const name of ['staging', 'production']) {
    it(`${name} repeats every binding and var, declares the secrets, and limits CPU`, () => {
      const env = read(name);
      assert.equal(env.name, `proofgate-${name}`);
      assert.deepEqual(bindingNames(env), bindingNames(local));
      for (const v of Object.keys(local.vars)) assert.ok(v in env.vars, `${name} sets ${v}`);
      for (const v of [
        'X402_CHAIN_ID',
        'X402_ASSET',
        'X402_ASSET_NAME',
        'X402_ASSET_VERSION',
        'X402_PAY_TO',
        'X402_FACILITATOR_URL',
        'X402_RPC_URL',
      ]) {
        assert.ok(v in env.vars, `${name} sets ${v}`);
      }
      assert.deepEqual(env.secrets?.required, REQUIRED_SECRETS);
      for (const s of REQUIRED_SECRETS) assert.ok(!(s in env.vars), `${s} is a secret, never a var`);
      assert.ok((env.limits?.cpu_ms ?? 0) > 0, 'a CPU limit');
      assert.equal(env.observability?.enabled, true);
      assert.equal(env.preview_urls, false);
      for (const d of env.d1_databases) assert.equal(d.migrations_dir, 'schema/migrations');
      const migrated = new Set(env.migrations.flatMap((m) => [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])]));
      for (const b of env.durable_objects.bindings) assert.ok(migrated.has(b.class_name), `a migration creates ${b.class_name}`);
      assert.ok(
        env.durable_objects.bindings.every((b) => b.script_name === undefined),
        'each environment owns its Durable Objects',
      );
    });
  }

  it('serves production only on its own hostname, with its own data', () => {
    const production = read('production');
    const staging = read('staging');
    assert.equal(production.workers_dev, false);
    assert.ok(production.routes && production.routes.length > 0, 'a route or custom domain');
    for (const key of ['d1_databases', 'r2_buckets', 'analytics_engine_datasets'] as const) {
      const names = (c: ResolvedConfig) =>
        (c[key] as { database_name?: string; bucket_name?: string; dataset?: string }[]).map((b) => b.database_name ?? b.bucket_name ?? b.dataset);
      assert.equal(
        names(production).filter((n) => names(staging).includes(n) || names(local).includes(n)).length,
        0,
        `${key}: production shares nothing with staging or local`,
      );
    }
    const namespaces = [local, staging, production].map((c) => c.ratelimits[0]?.namespace_id);
    assert.equal(new Set(namespaces).size, 3, 'each environment has its own rate limit namespace');
  });
});
