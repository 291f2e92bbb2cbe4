import { addCallSample, type CallSample, type MetricIncrements } from '../../core/metrics/call-metrics';
import { backendPool, type BackendPool } from '../../durable-objects/backend-pool';

// Per-call metrics, the Cloudflare way: each call is one Workers Analytics Engine data point (when
// the CALL_METRICS dataset is bound), and the isolate adds calls up and flushes the sums to the
// BackendPool object every FLUSH_EVERY_MS or FLUSH_EVERY_CALLS, off the answer's path (waitUntil),
// where they are served as Prometheus text at GET /metrics. No call waits on a global object.

/** An isolate flushes its sums at least this often while it has calls. */
export const FLUSH_EVERY_MS = 2_000;
/** …or after this many calls. */
export const FLUSH_EVERY_CALLS = 100;

let pending: MetricIncrements = {};
const sending = new Set<Promise<unknown>>();
let pendingCalls = 0;
let lastFlush = 0;

/** Where a call's metrics go. */
export interface MetricsSinks {
  pool: DurableObjectNamespace<BackendPool>;
  dataset: AnalyticsEngineDataset | undefined;
  waitUntil: (p: Promise<unknown>) => void;
}

/** Records one answered call (any status). */
export function recordCall(sinks: MetricsSinks, sample: CallSample, nowMs: number): void {
  sinks.dataset?.writeDataPoint({
    indexes: [sample.model],
    blobs: [sample.model, String(sample.status), sample.encoding],
    doubles: [sample.totalMs, sample.backendMs ?? -1, sample.status],
  });
  addCallSample(pending, sample);
  pendingCalls++;
  if (pendingCalls >= FLUSH_EVERY_CALLS || nowMs - lastFlush >= FLUSH_EVERY_MS) {
    const batch = pending;
    pending = {};
    pendingCalls = 0;
    lastFlush = nowMs;
    const sent = backendPool(sinks.pool)
      .addMetrics(batch)
      .catch(() => {
        // Put the sums back: the next flush carries them.
        for (const [k, v] of Object.entries(batch)) pending[k] = (pending[k] ?? 0) + v;
      })
      .finally(() => sending.delete(sent));
    sending.add(sent);
    sinks.waitUntil(sent);
  }
}

/** Sends this isolate's unsent sums now, and waits for sums already on their way (before the metrics are read). */
export async function flushCallMetrics(pool: DurableObjectNamespace<BackendPool>): Promise<void> {
  await Promise.all([...sending]);
  const batch = pending;
  pending = {};
  pendingCalls = 0;
  lastFlush = Date.now();
  if (Object.keys(batch).length > 0) await backendPool(pool).addMetrics(batch);
}
