import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy, evaluateValue, toValue } from '../core/rego';
import { REPO_ROOT } from '../local-stack/demo-models';
import { ProcessGroup } from '../local-stack/process-group';
import { startBenchWorker } from './bench-worker';
import { percentile } from './stats';

// Evaluation time of a typical admission policy (policies/admission.rego: ~20 rules; an input of a
// few KB), the same engine in Node and in workerd, measured in the same run.

const RULES = ['data.proofgate.admission.allow', 'data.proofgate.admission.deny'];

function workload() {
  const modules = { 'admission.rego': readFileSync(join(REPO_ROOT, 'policies', 'admission.rego'), 'utf8') };
  const params = {
    ...JSON.parse(readFileSync(join(REPO_ROOT, 'policies', 'admission.params.json'), 'utf8')),
    blockedCallers: Array.from({ length: 50 }, (_, i) => `key_${i.toString(16).padStart(16, '0')}`),
    modelAllowList: [{ model: 'ppocr-det', callers: Array.from({ length: 20 }, (_, i) => `key_${i}`) }],
  };
  const input = {
    caller: 'key_00000000000000aa',
    model: 'silero-vad',
    version: 1,
    price: '1000',
    method: 'POST',
    path: '/v1/models/silero-vad/infer',
    headers: {
      'content-type': 'application/json',
      'user-agent': `agent/1.0 ${'x'.repeat(2000)}`,
      origin: 'https://example.com',
      'cf-ipcountry': 'DE',
    },
    time: '2026-11-25T10:00:00Z',
  };
  return { modules, params, input, nowNs: 1_795_600_000_000_000_000n };
}

/** Prints p50/p99 of one admission decision (allow + deny) in Node and in workerd. */
export async function benchRegoAdmission(iterations: number): Promise<void> {
  const w = workload();
  const policy = compilePolicy(w.modules);
  const opts = { input: w.input, data: toValue({ params: w.params }), context: { nowNs: w.nowNs } };
  for (let i = 0; i < 200; i++) for (const r of RULES) evaluateValue(policy, r, opts);
  const node: number[] = [];
  for (let i = 0; i < iterations * 10; i++) {
    const start = performance.now();
    for (const r of RULES) evaluateValue(policy, r, opts);
    node.push((performance.now() - start) * 1000);
  }

  const group = new ProcessGroup();
  try {
    const url = await startBenchWorker(group, 'workerd-rego', 'bench/workerd-rego/wrangler.toml');
    const res = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({
        modules: w.modules,
        rules: RULES,
        input: w.input,
        params: w.params,
        nowNs: w.nowNs.toString(),
        samples: 60,
        batch: 500,
        warmup: 500,
      }),
    });
    const { samples } = (await res.json()) as { samples: number[] };
    const workerd = samples.map((ms) => ms * 1000);
    process.stdout.write(
      `\nRego admission decision (policies/admission.rego, ~20 rules, ${Math.round(JSON.stringify(w.input).length / 1024)} KB input; allow + deny)\n`,
    );
    process.stdout.write(`  node     p50 ${us(percentile(node, 50))}  p99 ${us(percentile(node, 99))}  (${node.length} single evaluations)\n`);
    process.stdout.write(
      `  workerd  p50 ${us(percentile(workerd, 50))}  p99 ${us(percentile(workerd, 99))}  (${workerd.length} samples, each the mean of 500: workerd's clock has 1 ms steps)\n`,
    );
  } finally {
    await group.stopAll();
  }
}

function us(v: number): string {
  return `${v.toFixed(1)} µs`.padStart(10);
}
