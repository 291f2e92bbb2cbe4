import { launchTestStack } from '../test/support/test-stack';
import { type BenchCase, TINY_ADD_CASE, benchImage } from './cases';
import { percentile, timeRuns } from './stats';

// Quorum inference against a single-backend call, measured in the same run on the same stack: three
// backend processes, each attached to one of three operators (stakes 50/30/20) registered on the
// local chain, and the gateway in workerd. The same model and input run (1) on one backend, (2) on
// k = 2 and (3) k = 3 backends of distinct operators with the reference fixed, the digest BLS-signed
// by each operator's backend, the signatures verified and aggregated in the request's Durable Object.

const CASES: BenchCase[] = [TINY_ADD_CASE, { label: 'ppocr-det 64', model: 'ppocr-det', inputs: benchImage(64) }];

const ms = (v: number): string => `${v.toFixed(1)} ms`.padStart(11);

/** Runs the benchmark and prints one table: p50 and p99 of each mode, and the quorum's cost over one backend. */
export async function benchQuorumInference(iterations: number): Promise<void> {
  const log = (l: string) => process.stderr.write(`[bench] ${l}\n`);
  const stack = await launchTestStack({ backends: 3, operatorStakes: [50n, 30n, 20n], log });
  try {
    const runs = Math.min(iterations, 50);
    process.stdout.write(`\nquorum inference vs one backend (3 backend processes of 3 operators, stakes 50/30/20; ${runs} sequential calls each)\n`);
    process.stdout.write(
      `${'model'.padEnd(14)} ${'mode'.padEnd(28)} ${'p50'.padStart(11)} ${'p99'.padStart(11)} ${'p50 / one backend'.padStart(18)}\n`,
    );
    for (const c of CASES) {
      const body = JSON.stringify({ inputs: c.inputs });
      const infer = (query: string, check: (reply: { attestation?: { signers: string[] } }) => boolean) => async (): Promise<void> => {
        const res = await fetch(`${stack.gateway}/v1/models/${c.model}/infer${query}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const reply = (await res.json()) as { attestation?: { signers: string[] } };
        if (res.status !== 200 || !check(reply)) throw new Error(`${c.model}${query}: HTTP ${res.status} ${JSON.stringify(reply).slice(0, 300)}`);
      };
      const single = await timeRuns(
        infer('', (r) => r.attestation === undefined),
        runs,
        5,
      );
      const base = percentile(single, 50);
      const rows: [string, number[]][] = [['one backend (baseline)', single]];
      for (const k of [2, 3]) {
        rows.push([
          `quorum k=${k} (attested)`,
          await timeRuns(
            infer(`?mode=quorum&k=${k}`, (r) => r.attestation?.signers.length === k),
            runs,
            5,
          ),
        ]);
      }
      for (const [mode, samples] of rows) {
        const p50 = percentile(samples, 50);
        process.stdout.write(
          `${c.label.padEnd(14)} ${mode.padEnd(28)} ${ms(p50)} ${ms(percentile(samples, 99))} ${`${(p50 / base).toFixed(2)}×`.padStart(18)}\n`,
        );
      }
    }
  } finally {
    await stack.stop();
  }
}
