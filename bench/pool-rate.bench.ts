import { ProcessGroup } from '../local-stack/process-group';
import { startBenchWorker } from './bench-worker';
import { percentile } from './stats';

// How many requests one BackendPool Durable Object serves per second: what docs/inference-data-path.md
// ("Scale") plans with. A bench Worker sends bursts of concurrent RPCs to the one pool object: full
// snapshots of a pool of BACKENDS members (what each isolate asks for at most once a second) and
// heartbeats (what each backend sends every 10 s). Locally the calling Worker shares workerd with the
// object, so the rates are lower bounds for Cloudflare, where they run apart.

const BACKENDS = 100;
const BURST = 400;

/** Prints the pool object's rate for snapshots and for heartbeats (p50 over bursts of concurrent RPCs). */
export async function benchPoolRate(iterations: number): Promise<void> {
  const group = new ProcessGroup();
  try {
    const url = await startBenchWorker(group, 'pool-rate', 'bench/pool-rate/wrangler.toml');
    const post = async (op: string, calls: number): Promise<number> => {
      const started = performance.now();
      const res = await fetch(url, { method: 'POST', body: JSON.stringify({ op, calls, backends: BACKENDS }) });
      if (!res.ok) throw new Error(`pool bench Worker: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      return calls / ((performance.now() - started) / 1000);
    };
    await post('register', BACKENDS);
    const bursts = Math.max(5, Math.min(20, Math.round(iterations / 20)));
    const rates: Record<string, number[]> = { snapshot: [], heartbeat: [] };
    for (const op of Object.keys(rates)) await post(op, BURST); // warm-up
    for (let i = 0; i < bursts; i++) for (const op of Object.keys(rates)) rates[op]!.push(await post(op, BURST));
    process.stdout.write(`\nBackendPool Durable Object (${BACKENDS} backends; ${bursts} bursts of ${BURST} concurrent RPCs each)\n`);
    for (const [op, r] of Object.entries(rates)) {
      process.stdout.write(
        `  ${op.padEnd(10)} p50 ${percentile(r, 50).toFixed(0).padStart(6)} req/s   worst burst ${Math.min(...r)
          .toFixed(0)
          .padStart(6)} req/s\n`,
      );
    }
    process.stdout.write(
      `  routing capacity: one pool object refreshes about ${Math.floor(percentile(rates['snapshot']!, 50))} isolates a second (one snapshot per isolate per second)\n`,
    );
  } finally {
    await group.stopAll();
  }
}
