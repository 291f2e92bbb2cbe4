import { DurableObject } from 'cloudflare:workers';
import { renderCallMetrics, type MetricIncrements } from '../core/metrics/call-metrics';

/** A backend as the pool routes to it. */
export interface PoolBackend {
  id: string;
  address: string;
  url: string;
  executionProvider: string;
  /** "*" or the sha256s of the models it serves. */
  models: '*' | string[];
  status: 'active' | 'disabled';
  /** The operator the backend proved (at registration) it belongs to, by its id and BLS key; null when none. */
  operator: BackendOperatorRef | null;
}

/** An operator a backend is attached to: its id and the BLS key that signed the attachment (checked against the chain at each quorum). */
export interface BackendOperatorRef {
  id: string;
  blsPublicKey: string;
}

/** The load a backend reports in its heartbeats (and on every answer, to the isolate that called it). */
export interface BackendLoad {
  inFlight: number;
  queueDepth: number;
  queueCapacity: number;
  draining: boolean;
}

/** One backend in a pool snapshot: where it is, what it serves, and whether to route to it. */
export interface PoolMember extends BackendLoad {
  id: string;
  address: string;
  url: string;
  executionProvider: string;
  models: '*' | string[];
  operator: BackendOperatorRef | null;
  /** Registered, active, heard from within HEARTBEAT_TTL_MS, not cooling down after a failure. */
  healthy: boolean;
  lastHeartbeatAt: number | null;
  coolingDownUntil: number | null;
}

/** What Worker isolates route from, refreshed in the background (see workers/inference/pool-routing.ts). */
export interface PoolSnapshot {
  takenAt: number;
  members: PoolMember[];
}

/** A backend without a heartbeat for this long is not routed to. */
export const HEARTBEAT_TTL_MS = 30_000;
/** After a failed call a backend rests this long before it is tried again. */
export const FAILURE_COOLDOWN_MS = 10_000;

interface Row extends Record<string, SqlStorageValue> {
  id: string;
  address: string;
  url: string;
  execution_provider: string;
  models: string;
  status: string;
  last_heartbeat_at: number | null;
  cooldown_until: number | null;
  in_flight: number;
  queue_depth: number;
  queue_capacity: number;
  draining: number;
  operator_id: string | null;
  operator_key: string | null;
}

/**
 * The backend pool: one instance (named "global") holds the registered backends, their health and
 * the load they report. It is not on the per-call path: Worker isolates route from a snapshot they
 * cache and refresh in the background, and report failures back here. It also adds up the gateway's
 * call metrics that isolates flush to it, and serves them as Prometheus text.
 */
export class BackendPool extends DurableObject<object> {
  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec('DROP TABLE IF EXISTS backends'); // the previous layout, without load; backends re-register on their next heartbeat
    sql.exec(`CREATE TABLE IF NOT EXISTS members (
      id TEXT PRIMARY KEY, address TEXT NOT NULL, url TEXT NOT NULL, execution_provider TEXT NOT NULL,
      models TEXT NOT NULL, status TEXT NOT NULL, last_heartbeat_at INTEGER, cooldown_until INTEGER,
      in_flight INTEGER NOT NULL DEFAULT 0, queue_depth INTEGER NOT NULL DEFAULT 0,
      queue_capacity INTEGER NOT NULL DEFAULT 0, draining INTEGER NOT NULL DEFAULT 0)`);
    // Quorum mode: the operator a backend is attached to (added to pools created before it).
    const columns = sql.exec<{ name: string }>('PRAGMA table_info(members)').toArray();
    if (!columns.some((c) => c.name === 'operator_id')) {
      sql.exec('ALTER TABLE members ADD COLUMN operator_id TEXT');
      sql.exec('ALTER TABLE members ADD COLUMN operator_key TEXT');
    }
    sql.exec('CREATE TABLE IF NOT EXISTS call_metrics (series TEXT PRIMARY KEY, value REAL NOT NULL)');
  }

  /** Adds or updates a backend; a registration counts as a heartbeat and ends any drain. */
  upsert(backend: PoolBackend): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO members (id, address, url, execution_provider, models, status, last_heartbeat_at, cooldown_until, draining, operator_id, operator_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?)
       ON CONFLICT(id) DO UPDATE SET address = excluded.address, url = excluded.url,
         execution_provider = excluded.execution_provider, models = excluded.models, status = excluded.status,
         last_heartbeat_at = excluded.last_heartbeat_at, cooldown_until = NULL, draining = 0,
         operator_id = excluded.operator_id, operator_key = excluded.operator_key`,
      backend.id,
      backend.address,
      backend.url,
      backend.executionProvider,
      JSON.stringify(backend.models),
      backend.status,
      Date.now(),
      backend.operator?.id ?? null,
      backend.operator?.blsPublicKey ?? null,
    );
  }

  /** Records a heartbeat and the load it reports; false when the backend is unknown (it must register again). */
  heartbeat(id: string, load: BackendLoad): boolean {
    const cursor = this.ctx.storage.sql.exec(
      'UPDATE members SET last_heartbeat_at = ?, in_flight = ?, queue_depth = ?, queue_capacity = ?, draining = ? WHERE id = ?',
      Date.now(),
      load.inFlight,
      load.queueDepth,
      load.queueCapacity,
      load.draining ? 1 : 0,
      id,
    );
    return cursor.rowsWritten > 0;
  }

  /** Removes a backend that has drained; false when it was not in the pool. */
  depart(id: string): boolean {
    return this.ctx.storage.sql.exec('DELETE FROM members WHERE id = ?', id).rowsWritten > 0;
  }

  /** A failed call: the backend rests for FAILURE_COOLDOWN_MS in every isolate's next snapshot. */
  reportFailure(id: string): void {
    this.ctx.storage.sql.exec('UPDATE members SET cooldown_until = ? WHERE id = ?', Date.now() + FAILURE_COOLDOWN_MS, id);
  }

  /** Every registered backend with its health and load. */
  snapshot(): PoolSnapshot {
    const now = Date.now();
    const members = this.ctx.storage.sql
      .exec<Row>('SELECT * FROM members ORDER BY id')
      .toArray()
      .map((r) => ({
        id: r.id,
        address: r.address,
        url: r.url,
        executionProvider: r.execution_provider,
        models: JSON.parse(r.models) as '*' | string[],
        operator: r.operator_id !== null && r.operator_key !== null ? { id: r.operator_id, blsPublicKey: r.operator_key } : null,
        healthy:
          r.status === 'active' &&
          r.last_heartbeat_at !== null &&
          r.last_heartbeat_at >= now - HEARTBEAT_TTL_MS &&
          (r.cooldown_until === null || r.cooldown_until <= now),
        lastHeartbeatAt: r.last_heartbeat_at,
        coolingDownUntil: r.cooldown_until !== null && r.cooldown_until > now ? r.cooldown_until : null,
        inFlight: r.in_flight,
        queueDepth: r.queue_depth,
        queueCapacity: r.queue_capacity,
        draining: r.draining === 1,
      }));
    return { takenAt: now, members };
  }

  /** Adds an isolate's metric increments to the totals. */
  addMetrics(increments: MetricIncrements): void {
    for (const [series, value] of Object.entries(increments)) {
      if (!Number.isFinite(value)) continue;
      this.ctx.storage.sql.exec(
        'INSERT INTO call_metrics (series, value) VALUES (?, ?) ON CONFLICT(series) DO UPDATE SET value = value + excluded.value',
        series,
        value,
      );
    }
  }

  /** The gateway's metrics as Prometheus text: call totals and latencies, and each backend's health and load. */
  metricsText(): string {
    const totals: MetricIncrements = {};
    for (const r of this.ctx.storage.sql.exec<{ series: string; value: number }>('SELECT series, value FROM call_metrics').toArray()) {
      totals[r.series] = r.value;
    }
    const pool = this.snapshot().members;
    const gauge = (name: string, help: string, value: (m: PoolMember) => number): string[] => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      ...pool.map((m) => `${name}{backend="${m.id}",provider="${m.executionProvider}"} ${value(m)}`),
    ];
    return (
      renderCallMetrics(totals) +
      [
        ...gauge('proofgate_pool_backend_healthy', 'Backends the pool routes to (1) or not (0)', (m) => (m.healthy && !m.draining ? 1 : 0)),
        ...gauge('proofgate_pool_backend_queue_depth', 'Queue depth each backend reported in its last heartbeat', (m) => m.queueDepth),
        ...gauge('proofgate_pool_backend_draining', 'Backends that are draining', (m) => (m.draining ? 1 : 0)),
      ].join('\n') +
      '\n'
    );
  }
}

/** The single pool instance's stub. */
export function backendPool(ns: DurableObjectNamespace<BackendPool>): DurableObjectStub<BackendPool> {
  return ns.get(ns.idFromName('global'));
}
