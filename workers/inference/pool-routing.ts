import { backendPool, FAILURE_COOLDOWN_MS, type BackendPool, type PoolMember, type PoolSnapshot } from '../../durable-objects/backend-pool';

// Routing without a round trip per call: each isolate keeps a snapshot of the pool (backends,
// health, the load they last reported), refreshes it in the background once it is older than
// REFRESH_AFTER_MS, and waits for a fresh one only when it has none or it is older than
// MAX_STALENESS_MS. Between refreshes the isolate keeps its own view current: calls it has in
// flight, the queue depth each answer reports, a local cool-down after a failure (also reported to
// the pool, so other isolates learn it on their next refresh), and draining seen in an answer.

/** A snapshot older than this is refreshed in the background while calls keep routing from it. */
export const REFRESH_AFTER_MS = 1_000;
/** A snapshot older than this is not routed from: the call waits for a fresh one. */
export const MAX_STALENESS_MS = 15_000;

/** A backend chosen for one attempt. */
export interface RouteChoice {
  id: string;
  address: string;
  url: string;
  executionProvider: string;
}

interface LocalView {
  inFlight: number;
  /** Queue depth and capacity from the latest answer, newer than the snapshot's heartbeat figure. */
  reported?: { queueDepth: number; queueCapacity: number; at: number };
  coolingUntil: number;
  draining: boolean;
}

/** An isolate's routing state: the pool snapshot and what this isolate saw since. */
export class PoolRouter {
  private snapshot: PoolSnapshot | null = null;
  private fetchedAt = 0;
  private refreshing: Promise<void> | null = null;
  private readonly local = new Map<string, LocalView>();

  /** A snapshot fresh enough to route from (refreshing it in the background through `waitUntil` when aging). */
  async ready(ns: DurableObjectNamespace<BackendPool>, waitUntil: (p: Promise<unknown>) => void, nowMs: number): Promise<void> {
    const age = nowMs - this.fetchedAt;
    if (!this.snapshot || age > MAX_STALENESS_MS) await this.refresh(ns);
    else if (age > REFRESH_AFTER_MS) waitUntil(this.refresh(ns).catch(() => undefined));
  }

  /** Fetches a new snapshot (one fetch at a time per isolate). */
  refresh(ns: DurableObjectNamespace<BackendPool>): Promise<void> {
    this.refreshing ??= backendPool(ns)
      .snapshot()
      .then((s) => {
        this.snapshot = s as PoolSnapshot;
        this.fetchedAt = Date.now();
        for (const m of this.snapshot.members) {
          const view = this.local.get(m.id);
          // The pool's word on draining wins once it is newer than what this isolate saw.
          if (view) view.draining = m.draining;
        }
      })
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** Forgets the snapshot (a newly registered backend then shows up on the next call). */
  invalidate(): void {
    this.fetchedAt = 0;
  }

  /**
   * Picks a backend for `modelSha256`, skipping `exclude`: healthy, not draining, not cooling down
   * here, with the least load (calls in flight from this isolate plus the queue it last reported);
   * ties are broken at random so that isolates spread out. Null when none serves the model.
   */
  pick(modelSha256: string, exclude: readonly string[], nowMs: number): RouteChoice | null {
    const candidates = this.candidates(modelSha256, exclude, nowMs);
    if (candidates.length === 0) return null;
    candidates.sort((a, b) => a.load - b.load || a.m.id.localeCompare(b.m.id));
    const best = candidates.filter((c) => c.load === candidates[0]!.load);
    const chosen = best[Math.floor(Math.random() * best.length)]!.m;
    return { id: chosen.id, address: chosen.address, url: chosen.url, executionProvider: chosen.executionProvider };
  }

  /** Whether a backend could take a call for `modelSha256` now (what readiness probes ask). */
  serves(modelSha256: string, nowMs: number): boolean {
    return this.candidates(modelSha256, [], nowMs).length > 0;
  }

  // The backends a call for `modelSha256` may go to, with their load.
  private candidates(modelSha256: string, exclude: readonly string[], nowMs: number): { m: PoolMember; load: number }[] {
    const candidates: { m: PoolMember; load: number }[] = [];
    for (const m of this.snapshot?.members ?? []) {
      if (!m.healthy || exclude.includes(m.id)) continue;
      if (m.models !== '*' && !m.models.includes(modelSha256)) continue;
      const view = this.view(m.id);
      if (view.draining || view.coolingUntil > nowMs) continue;
      const queue = view.reported && view.reported.at > (this.snapshot?.takenAt ?? 0) ? view.reported.queueDepth : m.queueDepth;
      candidates.push({ m, load: view.inFlight + queue });
    }
    return candidates;
  }

  /** Counts a call in flight to `id`; returns the function that ends it. */
  begin(id: string): () => void {
    const view = this.view(id);
    view.inFlight++;
    return () => {
      view.inFlight = Math.max(0, view.inFlight - 1);
    };
  }

  /** Records the load a backend reported on an answer (or a refusal). */
  reported(id: string, load: { queueDepth: number; queueCapacity: number; draining: boolean }, nowMs: number): void {
    const view = this.view(id);
    view.reported = { queueDepth: load.queueDepth, queueCapacity: load.queueCapacity, at: nowMs };
    if (load.draining) view.draining = true;
  }

  /** A failed call: the backend rests here at once (the pool is told separately). */
  failed(id: string, nowMs: number): void {
    this.view(id).coolingUntil = nowMs + FAILURE_COOLDOWN_MS;
  }

  private view(id: string): LocalView {
    let view = this.local.get(id);
    if (!view) {
      view = { inFlight: 0, coolingUntil: 0, draining: false };
      this.local.set(id, view);
    }
    return view;
  }
}

/** This isolate's router. */
export const poolRouter = new PoolRouter();
