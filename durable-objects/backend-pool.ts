import { DurableObject } from 'cloudflare:workers';

/** A backend as the pool routes to it. */
export interface PoolBackend {
  id: string;
  address: string;
  url: string;
  executionProvider: string;
  /** "*" or the sha256s of the models it serves. */
  models: '*' | string[];
  status: 'active' | 'disabled';
}

/** What `acquire` hands out: the backend to call. Release it with the same id. */
export interface BackendLease {
  id: string;
  address: string;
  url: string;
  executionProvider: string;
}

/** A backend's health as the pool sees it. */
export interface BackendHealth {
  id: string;
  healthy: boolean;
  inFlight: number;
  lastHeartbeatAt: number | null;
  coolingDownUntil: number | null;
}

/** A backend without a heartbeat for this long is not routed to. */
export const HEARTBEAT_TTL_MS = 30_000;
/** After a failed call a backend rests this long before it is tried again. */
export const FAILURE_COOLDOWN_MS = 10_000;

/**
 * The backend pool: one instance (named "global") routes every inference call. It is a Durable
 * Object because routing needs one consistent view of in-flight counts and health; registrations
 * live in its SQLite storage (and in D1 for listing), in-flight counts in memory.
 */
export class BackendPool extends DurableObject<object> {
  private readonly inFlight = new Map<string, number>();
  private readonly lastAssigned = new Map<string, number>();
  private assignments = 0;

  constructor(ctx: DurableObjectState, env: object) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS backends (
      id TEXT PRIMARY KEY, address TEXT NOT NULL, url TEXT NOT NULL, execution_provider TEXT NOT NULL,
      models TEXT NOT NULL, status TEXT NOT NULL, last_heartbeat_at INTEGER, cooldown_until INTEGER)`);
  }

  /** Adds or updates a backend; a registration counts as a heartbeat. */
  upsert(backend: PoolBackend): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO backends (id, address, url, execution_provider, models, status, last_heartbeat_at, cooldown_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT(id) DO UPDATE SET address = excluded.address, url = excluded.url,
         execution_provider = excluded.execution_provider, models = excluded.models, status = excluded.status,
         last_heartbeat_at = excluded.last_heartbeat_at, cooldown_until = NULL`,
      backend.id,
      backend.address,
      backend.url,
      backend.executionProvider,
      JSON.stringify(backend.models),
      backend.status,
      Date.now(),
    );
  }

  /** Records a heartbeat; false when the backend is unknown (it must register again). */
  heartbeat(id: string): boolean {
    const cursor = this.ctx.storage.sql.exec('UPDATE backends SET last_heartbeat_at = ? WHERE id = ?', Date.now(), id);
    return cursor.rowsWritten > 0;
  }

  /**
   * Picks the healthy backend serving `modelSha256` with the fewest calls in flight (least recently
   * used on ties), skipping `exclude`, and counts the call as in flight. Null when there is none.
   */
  acquire(modelSha256: string, exclude: string[] = []): BackendLease | null {
    const now = Date.now();
    const rows = this.ctx.storage.sql
      .exec<{
        id: string;
        address: string;
        url: string;
        execution_provider: string;
        models: string;
      }>(
        `SELECT id, address, url, execution_provider, models FROM backends
       WHERE status = 'active' AND last_heartbeat_at >= ? AND (cooldown_until IS NULL OR cooldown_until <= ?)`,
        now - HEARTBEAT_TTL_MS,
        now,
      )
      .toArray();
    let best: (typeof rows)[number] | undefined;
    for (const row of rows) {
      if (exclude.includes(row.id)) continue;
      const models = JSON.parse(row.models) as '*' | string[];
      if (models !== '*' && !models.includes(modelSha256)) continue;
      if (!best || this.rank(row.id) < this.rank(best.id)) best = row;
    }
    if (!best) return null;
    this.inFlight.set(best.id, (this.inFlight.get(best.id) ?? 0) + 1);
    this.lastAssigned.set(best.id, ++this.assignments);
    return { id: best.id, address: best.address, url: best.url, executionProvider: best.execution_provider };
  }

  /** Ends a call; a failed one puts the backend in a short cool-down so traffic fails over. */
  release(id: string, ok: boolean): void {
    this.inFlight.set(id, Math.max(0, (this.inFlight.get(id) ?? 1) - 1));
    if (!ok) this.ctx.storage.sql.exec('UPDATE backends SET cooldown_until = ? WHERE id = ?', Date.now() + FAILURE_COOLDOWN_MS, id);
  }

  /** Health of every registered backend. */
  health(): BackendHealth[] {
    const now = Date.now();
    return this.ctx.storage.sql
      .exec<{ id: string; status: string; last_heartbeat_at: number | null; cooldown_until: number | null }>(
        'SELECT id, status, last_heartbeat_at, cooldown_until FROM backends ORDER BY id',
      )
      .toArray()
      .map((r) => ({
        id: r.id,
        healthy:
          r.status === 'active' &&
          r.last_heartbeat_at !== null &&
          r.last_heartbeat_at >= now - HEARTBEAT_TTL_MS &&
          (r.cooldown_until === null || r.cooldown_until <= now),
        inFlight: this.inFlight.get(r.id) ?? 0,
        lastHeartbeatAt: r.last_heartbeat_at,
        coolingDownUntil: r.cooldown_until !== null && r.cooldown_until > now ? r.cooldown_until : null,
      }));
  }

  // Sort key: fewest in flight first, then least recently assigned.
  private rank(id: string): number {
    return (this.inFlight.get(id) ?? 0) * 1e12 + (this.lastAssigned.get(id) ?? 0);
  }
}

/** The single pool instance's stub. */
export function backendPool(ns: DurableObjectNamespace<BackendPool>): DurableObjectStub<BackendPool> {
  return ns.get(ns.idFromName('global'));
}
