import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { launchTestStack } from '../test/support/test-stack';
import { paymentHeader, requirementsOf } from '../test/support/x402-payer';
import { percentile } from './stats';

// Cost of x402 at the edge, measured against the same call on a free model in the same run:
// `paid-add-async` (decode, EIP-712 recovery, nonce reservation in the payer's Durable Object, chain
// balance/nonce check, pending record; settlement happens after the answer) and `paid-add` (the
// same plus settlement on the local chain before the answer) versus `tiny-add` (same model, free).
// Authorizations are signed before timing starts: signing is the client's cost, not the edge's.

/** Prints median and p99 of free, paid-async and paid-sync calls, and the differences. */
export async function benchX402Verification(iterations: number): Promise<void> {
  const stack = await launchTestStack({ backends: 1, log: (l) => process.stderr.write(`[bench] ${l}\n`) });
  try {
    const payer = privateKeyToAccount(stack.chain!.payerPrivateKey as Hex);
    const body = JSON.stringify({
      inputs: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [4, 3, 2, 1] } },
    });
    const call = async (model: string, header?: string): Promise<number> => {
      const start = performance.now();
      const res = await fetch(`${stack.gateway}/v1/models/${model}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(header ? { 'payment-signature': header } : {}) },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${model}: HTTP ${res.status}`);
      return performance.now() - start;
    };
    const headers = async (model: string): Promise<string[]> => {
      const req = await requirementsOf(`${stack.gateway}/v1/models/${model}/infer`, body);
      return Promise.all(Array.from({ length: iterations + 10 }, async () => (await paymentHeader(payer, req)).header));
    };
    const [asyncHeaders, syncHeaders] = [await headers('paid-add-async'), await headers('paid-add')];
    const series: Record<string, number[]> = { free: [], 'paid async': [], 'paid sync': [] };
    for (let i = 0; i < iterations + 10; i++) {
      // Interleaved, so drift in the machine's load affects all three alike; the first 10 warm up.
      const f = await call('tiny-add');
      const a = await call('paid-add-async', asyncHeaders[i]);
      const s = await call('paid-add', syncHeaders[i]);
      if (i >= 10) {
        series['free']!.push(f);
        series['paid async']!.push(a);
        series['paid sync']!.push(s);
      }
    }
    const free50 = percentile(series['free']!, 50);
    process.stdout.write(`\nx402 at the edge vs the same call on a free model (${iterations} interleaved calls each, tiny-add model)\n`);
    for (const [name, xs] of Object.entries(series)) {
      const p50 = percentile(xs, 50);
      process.stdout.write(
        `  ${name.padEnd(11)} median ${ms(p50)}  p99 ${ms(percentile(xs, 99))}  median cost over free ${ms(p50 - free50)}  ratio ${(p50 / free50).toFixed(2)}x\n`,
      );
    }
  } finally {
    await stack.stop();
  }
}

function ms(v: number): string {
  return `${v.toFixed(2)} ms`.padStart(10);
}
