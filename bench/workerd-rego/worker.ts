import { compilePolicy, evaluateValue, toValue } from '../../core/rego';

// A bench-only Worker: evaluates a policy many times inside workerd, so Node and workerd run the same
// engine on the same inputs. workerd's clock ticks in whole milliseconds, so evaluations are timed
// in batches of `batch` and each sample is a batch's mean.

interface BenchRequest {
  modules: Record<string, string>;
  rules: string[];
  input: unknown;
  params: unknown;
  nowNs: string;
  samples: number;
  batch: number;
  warmup: number;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const req = (await request.json()) as BenchRequest;
    const policy = compilePolicy(req.modules);
    const opts = { input: req.input, data: toValue({ params: req.params }), context: { nowNs: BigInt(req.nowNs) } };
    const run = (): void => {
      for (const rule of req.rules) evaluateValue(policy, rule, opts);
    };
    for (let i = 0; i < req.warmup; i++) run();
    const samples: number[] = [];
    for (let i = 0; i < req.samples; i++) {
      const start = performance.now();
      for (let j = 0; j < req.batch; j++) run();
      samples.push((performance.now() - start) / req.batch);
    }
    return Response.json({ samples });
  },
};
