import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { PAID_PRICE } from '../test/support/test-stack';
import { addBody, authorize, inferUrl } from './payments';
import { newPayer, type SuiteContext } from './suite-context';

/** One autocannon run. */
export interface LoadRun {
  name: string;
  seconds: number;
  connections: number;
  requests: number;
  errors: number;
  non2xx: number;
  p50Ms: number;
  p99Ms: number;
  throughput: number;
}

/** A process's resident memory over the load runs (MB). */
export interface MemorySeries {
  start: number;
  peak: number;
  end: number;
  /** The last third of the samples grew less than 10 % (and less than 32 MB) above the middle third's peak. */
  levelsOff: boolean;
  samples: number[];
}

/** Figures of the load section (the fields, then per run). */
export interface LoadFigures {
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  throughput: number;
  memoryMb: Record<string, MemorySeries>;
  /** The unmeasured warm-up before memory is sampled (its requests count in no other figure). */
  warmup: LoadRun;
  runs: LoadRun[];
}

function rssMb(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
    return line ? Number(line[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function series(samples: number[]): MemorySeries {
  const third = Math.max(1, Math.floor(samples.length / 3));
  const middlePeak = Math.max(...samples.slice(third, 2 * third));
  const lastPeak = Math.max(...samples.slice(2 * third));
  const round = (x: number) => Math.round(x);
  return {
    start: round(samples[0] ?? 0),
    peak: round(Math.max(...samples)),
    end: round(samples[samples.length - 1] ?? 0),
    levelsOff: lastPeak <= middlePeak * 1.1 || lastPeak - middlePeak < 32,
    samples: samples.map(round),
  };
}

async function cannon(name: string, opts: autocannon.Options): Promise<LoadRun> {
  const result = await autocannon(opts);
  return {
    name,
    seconds: opts.duration as number,
    connections: opts.connections ?? 10,
    requests: result.requests.total,
    errors: result.errors + result.timeouts + result.non2xx,
    non2xx: result.non2xx,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    throughput: Math.round(result.requests.average * 10) / 10,
  };
}

/**
 * Sustained load over loopback with autocannon, bounded in time: the free tiny-add, then the priced
 * paid-add (sync settlement on chain), each call with its own payment authorization signed before
 * the run. The gateway's (workerd) and the backends' memory is sampled every second throughout.
 */
export async function load(ctx: SuiteContext): Promise<LoadFigures> {
  const seconds = ctx.quick ? 10 : 40;
  const connections = 8;
  const processes: Record<string, () => number> = {
    gateway: () => ctx.rs.gateway.runtimePids().reduce((s, pid) => s + rssMb(pid), 0),
    ...Object.fromEntries(ctx.stack.backends.map((b, i) => [`backend-${i + 1}`, () => rssMb(b.pid)])),
  };
  // workerd's resident memory climbs for tens of thousands of requests even for a Worker that only
  // answers "ok" (measured under miniflare: 203 → 550 MB over ~50,000 requests, flat after), so a
  // window of a few thousand calls cannot tell a leak from the runtime's own warm-up. The runtime is
  // warmed on the cheapest route first; memory is judged over the measured runs only.
  const warmup = await cannon('warm-up (/healthz)', { url: `${ctx.stack.gateway}/healthz`, connections, duration: ctx.quick ? 20 : 30 });
  ctx.log(`  warm-up: ${warmup.requests} requests to /healthz, ${warmup.errors} errors`);
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(processes).map((k) => [k, []]));
  const sample = () => {
    for (const [k, read] of Object.entries(processes)) samples[k]!.push(read());
  };
  sample();
  const timer = setInterval(sample, 1_000);
  try {
    const body = addBody(1);
    const free = await cannon('free model (tiny-add)', {
      url: inferUrl(ctx, 'tiny-add'),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections,
      duration: seconds,
    });
    ctx.log(`  free: ${free.requests} requests, ${free.throughput}/s, p99 ${free.p99Ms} ms, errors ${free.errors}`);

    // Enough authorizations for the fastest plausible rate; the run stops when they are used up.
    const pool = Math.max(connections, Math.ceil(free.throughput * seconds * 0.6));
    const payer = await newPayer(ctx, BigInt(PAID_PRICE) * BigInt(pool));
    const headers: string[] = [];
    for (let i = 0; i < pool; i++) headers.push((await authorize(ctx, payer, 'paid-add', body)).bare);
    let next = 0;
    const priced = await cannon('priced model (paid-add, sync settlement)', {
      url: inferUrl(ctx, 'paid-add'),
      connections,
      duration: seconds,
      maxOverallRequests: pool,
      requests: [
        {
          method: 'POST',
          body,
          setupRequest: (req: Record<string, unknown>) => ({
            ...req,
            headers: { 'content-type': 'application/json', 'payment-signature': headers[next++ % pool]! },
          }),
        },
      ],
    } as unknown as autocannon.Options);
    ctx.log(
      `  priced: ${priced.requests} requests (${pool} authorizations), ${priced.throughput}/s, p99 ${priced.p99Ms} ms, errors ${priced.errors}`,
    );
    const runs = [free, priced];
    const total = runs.reduce((s, r) => s + r.requests, 0);
    return {
      requests: total,
      errors: runs.reduce((s, r) => s + r.errors, 0),
      p50Ms: Math.max(...runs.map((r) => r.p50Ms)),
      p99Ms: Math.max(...runs.map((r) => r.p99Ms)),
      throughput: Math.round((total / runs.reduce((s, r) => s + r.seconds, 0)) * 10) / 10,
      memoryMb: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, series(v)])),
      warmup,
      runs,
    };
  } finally {
    clearInterval(timer);
  }
}
