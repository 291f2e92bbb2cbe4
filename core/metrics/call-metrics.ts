// The gateway's per-call metrics: counted in each Worker isolate, added up in one Durable Object
// (BackendPool) and served as Prometheus text. Series are plain counters keyed by name and labels,
// histograms as per-bucket counts made cumulative when rendered; Prometheus takes resets in stride.

/** Upper bounds (seconds) of the gateway's latency histogram buckets. */
export const LATENCY_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Counter increments by series key (`name{labels}`), what an isolate sends to the aggregating object. */
export type MetricIncrements = Record<string, number>;

/** What one call contributes to the gateway's metrics. */
export interface CallSample {
  model: string;
  status: number;
  /** How the body came in and the answer went out: json or binary. */
  encoding: string;
  /** Wall time in the Worker from request to answer, and the backend's share, in milliseconds. */
  totalMs: number;
  backendMs: number | null;
}

function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',')}}`;
}

function observe(into: MetricIncrements, name: string, base: Record<string, string>, seconds: number): void {
  const le = LATENCY_BUCKETS_S.find((b) => seconds <= b);
  const bucket = `${name}_bucket${labels({ ...base, le: le === undefined ? '+Inf' : String(le) })}`;
  into[bucket] = (into[bucket] ?? 0) + 1;
  const sum = `${name}_sum${labels(base)}`;
  into[sum] = (into[sum] ?? 0) + seconds;
  const count = `${name}_count${labels(base)}`;
  into[count] = (into[count] ?? 0) + 1;
}

/** Adds one call to a set of increments. */
export function addCallSample(into: MetricIncrements, s: CallSample): void {
  const requests = `proofgate_gateway_requests_total${labels({ model: s.model, status: String(s.status), encoding: s.encoding })}`;
  into[requests] = (into[requests] ?? 0) + 1;
  if (s.status < 400) {
    observe(into, 'proofgate_gateway_request_seconds', { model: s.model, stage: 'total' }, s.totalMs / 1000);
    if (s.backendMs !== null) observe(into, 'proofgate_gateway_request_seconds', { model: s.model, stage: 'backend' }, s.backendMs / 1000);
  }
}

const HELP: Record<string, [string, string]> = {
  proofgate_gateway_requests_total: ['counter', 'Inference calls answered by the gateway, by model, HTTP status and encoding'],
  proofgate_gateway_request_seconds: ['histogram', 'Inference call time in the gateway (total) and at the backend (backend)'],
};

/**
 * Renders summed increments as Prometheus text: counters as they are, histogram buckets made
 * cumulative (with every bound present) per label set.
 */
export function renderCallMetrics(totals: MetricIncrements): string {
  const lines: string[] = [];
  const byFamily = new Map<string, [string, number][]>();
  for (const [key, value] of Object.entries(totals)) {
    const name = key.slice(0, key.indexOf('{'));
    const family = Object.keys(HELP).find((f) => name === f || name.startsWith(`${f}_`)) ?? name;
    if (!byFamily.has(family)) byFamily.set(family, []);
    byFamily.get(family)!.push([key, value]);
  }
  for (const [family, series] of [...byFamily].sort(([a], [b]) => a.localeCompare(b))) {
    const [type, help] = HELP[family] ?? ['untyped', family];
    lines.push(`# HELP ${family} ${help}`, `# TYPE ${family} ${type}`);
    if (type !== 'histogram') {
      for (const [key, value] of series.sort()) lines.push(`${key} ${value}`);
      continue;
    }
    const groups = new Map<string, { buckets: Map<string, number>; sum: number; count: number }>();
    for (const [key, value] of series) {
      const labelText = key.slice(key.indexOf('{') + 1, -1);
      const base = labelText.replace(/,?le="[^"]*"/, '');
      const group = groups.get(base) ?? { buckets: new Map(), sum: 0, count: 0 };
      groups.set(base, group);
      if (key.startsWith(`${family}_bucket`)) group.buckets.set(/le="([^"]*)"/.exec(labelText)![1]!, value);
      else if (key.startsWith(`${family}_sum`)) group.sum = value;
      else if (key.startsWith(`${family}_count`)) group.count = value;
    }
    for (const [base, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
      let cumulative = 0;
      for (const le of [...LATENCY_BUCKETS_S.map(String), '+Inf']) {
        cumulative += g.buckets.get(le) ?? 0;
        lines.push(`${family}_bucket{${base ? `${base},` : ''}le="${le}"} ${cumulative}`);
      }
      lines.push(`${family}_sum{${base}} ${g.sum}`, `${family}_count{${base}} ${g.count}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
