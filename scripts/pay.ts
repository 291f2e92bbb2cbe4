import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodePaymentResponseHeader } from '@x402/core/http';
import { privateKeyToAccount } from 'viem/accounts';
import type { Address, Hex } from 'viem';
import { verifyReceipt } from '../core/receipts';
import { paidFetch } from '../sdk/src/paid-fetch';
import { REPO_ROOT } from '../local-stack/demo-models';
import { STACK_FILE, readStackFile } from '../local-stack/stack-file';

const HELP = `npm run pay -- <model> [--input FILE] [--payment-id ID] [--scheme exact|upto] [--stack-file FILE]

Calls a priced model of the running local stack as an agent would: the official x402 client pays the
402 with the stack's dev payer key, then the receipt is verified offline. Without --input, a Silero
VAD frame of silence is sent. --scheme upto pays with x402 upto (a Permit2 maximum, charged what
the call cost; the stack's dev payer has approved Permit2).
`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      input: { type: 'string' },
      'payment-id': { type: 'string' },
      scheme: { type: 'string', default: 'exact' },
      'stack-file': { type: 'string', default: join(REPO_ROOT, STACK_FILE) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1 || (values.scheme !== 'exact' && values.scheme !== 'upto')) {
    process.stdout.write(HELP);
    process.exit(values.help ? 0 : 2);
  }
  const stack = await readStackFile(values['stack-file']);
  if (!stack.chain) throw new Error('the stack has no payment chain');
  const account = privateKeyToAccount(stack.chain.payerPrivateKey as Hex);
  const pay = paidFetch(account, {
    network: `eip155:${stack.chain.chainId}`,
    asset: stack.chain.token as Address,
    scheme: values.scheme as 'exact' | 'upto',
    ...(values['payment-id'] ? { paymentId: values['payment-id'] } : {}),
  });
  const body = values.input
    ? readFileSync(values.input, 'utf8')
    : JSON.stringify({
        inputs: {
          input: { type: 'float32', dims: [1, 512], data: new Array(512).fill(0) },
          state: { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) },
          sr: { type: 'int64', dims: [], data: [16000] },
        },
      });
  const res = await pay(`${stack.gateway}/v1/models/${positionals[0]}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const reply = (await res.json()) as { outputs?: unknown; receipt?: Parameters<typeof verifyReceipt>[0]; payment?: unknown; error?: unknown };
  process.stdout.write(`HTTP ${res.status}\n`);
  const settlement = res.headers.get('payment-response');
  if (settlement) process.stdout.write(`PAYMENT-RESPONSE ${JSON.stringify(decodePaymentResponseHeader(settlement))}\n`);
  if (!res.ok || !reply.receipt) {
    process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
    process.exit(1);
  }
  process.stdout.write(`payment ${JSON.stringify(reply.payment)}\nreceipt ${JSON.stringify(reply.receipt, null, 2)}\n`);
  const verdict = await verifyReceipt(reply.receipt, {
    outputs: reply.outputs as Record<string, unknown>,
    trustedBackends: stack.backends.map((b) => b.address as Address),
  });
  process.stdout.write(`receipt verifies offline: ${verdict.valid}${verdict.valid ? '' : ` (${verdict.reasons.join(', ')})`}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
