import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError, client, globals } from '../cli-config';
import { fields, json, tensorLine } from '../print';
import { readInputs } from '../tensor-files';
import type { InferenceReceipt, ProofgateClient, TensorInputs, TensorsToCheck } from '../../sdk/src/index';

/** A receipt named on the command line: a request id (fetched from the gateway) or a JSON file (a receipt, or what `infer --save` wrote). */
async function loadReceipt(
  c: ProofgateClient,
  ref: string,
): Promise<{ receipt: InferenceReceipt; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }> {
  if (/^0x[0-9a-fA-F]{64}$/.test(ref)) return { receipt: await c.getReceipt(ref.toLowerCase() as `0x${string}`) };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(ref, 'utf8')) as Record<string, unknown>;
  } catch {
    throw new UsageError(`${ref} is neither a request id (0x + 64 hex digits) nor a readable JSON file`);
  }
  if (doc['receipt']) {
    return {
      receipt: doc['receipt'] as InferenceReceipt,
      ...(doc['inputs'] ? { inputs: doc['inputs'] as Record<string, unknown> } : {}),
      ...(doc['outputs'] ? { outputs: doc['outputs'] as Record<string, unknown> } : {}),
    };
  }
  return { receipt: doc as unknown as InferenceReceipt };
}

/** `proofgate receipts get|verify|reexec`. */
export function receiptsCommand(program: Command): void {
  const receipts = program.command('receipts').description('fetch, verify and re-execute receipts');

  receipts
    .command('get <requestId>')
    .description('a stored receipt')
    .addHelpText('after', '\nExample:\n  proofgate receipts get 0x3f…\n')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      json((await loadReceipt(await client(g), id)).receipt);
    });

  receipts
    .command('list')
    .description('the most recent receipts')
    .option('--limit <n>', 'how many', '20')
    .addHelpText('after', '\nExample:\n  proofgate receipts list --limit 5\n')
    .action(async (opts: { limit: string }, cmd: Command) => {
      const list = (await client(globals(cmd))).listReceipts({ limit: Number(opts.limit) });
      json(list);
    });

  receipts
    .command('verify <receipt>')
    .description("verify a receipt offline: its signature, a registered backend, the hub's model hash, and inputs/outputs when known")
    .option('--outputs <file>', 'JSON outputs (or `infer --save` file) to check against outputHash')
    .addHelpText(
      'after',
      '\nExamples:\n  proofgate receipts verify 0x3f…\n  proofgate receipts verify call.json      # written by `proofgate infer --save call.json`\n',
    )
    .action(async (ref: string, opts: { outputs?: string }, cmd: Command) => {
      const g = globals(cmd);
      const c = await client(g);
      const { receipt, inputs, outputs } = await loadReceipt(c, ref);
      const claimed = opts.outputs ? tensorsOf(opts.outputs) : outputs;
      const hub = (await c.getModel(receipt.model).catch(() => [])).find((v) => v.version === receipt.version);
      const verdict = await c.verifyReceipt(receipt, {
        ...(inputs ? { inputs: inputs as TensorsToCheck } : {}),
        ...(claimed ? { outputs: claimed as TensorsToCheck } : {}),
        ...(hub ? { modelSha256: hub.sha256 } : {}),
      });
      const reasons = [...verdict.reasons, ...(hub ? [] : ['unknown_model_version'])];
      const valid = reasons.length === 0;
      if (g.json) json({ valid, signer: verdict.signer, reasons });
      else {
        fields([
          ['verdict', valid ? 'valid' : 'INVALID'],
          ['signer', verdict.signer ?? '(none)'],
          ['checked', ['signature', 'registered backend', 'model hash', ...(inputs ? ['inputs'] : []), ...(claimed ? ['outputs'] : [])].join(', ')],
          ...(valid ? [] : ([['reasons', reasons.join(', ')]] as [string, string][])),
        ]);
      }
      if (!valid) process.exitCode = 1;
    });

  receipts
    .command('reexec <receipt>')
    .description('re-execute a receipt locally with onnxruntime-web: download the model by its sha256, run the inputs, compare the output hash')
    .option('-i, --input <spec...>', 'the call inputs (as for `infer`), unless the receipt file holds them')
    .option('--outputs <file>', 'the outputs the call returned (JSON), to compare within float tolerance')
    .option('--exact', 'require bit-identical outputs (no float tolerance)')
    .addHelpText(
      'after',
      '\nExamples:\n  proofgate receipts reexec call.json              # written by `proofgate infer --save call.json`\n  proofgate receipts reexec 0x3f… --input inputs.json\n',
    )
    .action(async (ref: string, opts: { input?: string[]; outputs?: string; exact?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const c = await client(g);
      const loaded = await loadReceipt(c, ref);
      let inputs: TensorInputs | Record<string, unknown> | undefined = loaded.inputs;
      if (opts.input?.length) {
        const signature = (await c.getModel(loaded.receipt.model).catch(() => [])).find((v) => v.version === loaded.receipt.version);
        inputs = readInputs(opts.input, signature?.inputs ?? []);
      }
      if (!inputs) throw new UsageError('the inputs of the call are needed: --input, or a file written by `infer --save`');
      const outputs = opts.outputs ? tensorsOf(opts.outputs) : loaded.outputs;
      const r = await c.reExecute({
        receipt: loaded.receipt,
        inputs: inputs as TensorsToCheck,
        ...(outputs ? { outputs: outputs as TensorsToCheck } : {}),
        ...(opts.exact ? { tolerance: false as const } : {}),
      });
      if (g.json) json({ ...r, outputs: undefined });
      else {
        fields([
          ['verdict', r.matches ? 'matches' : 'DOES NOT MATCH'],
          ['output hash', `${r.outputHash}${r.exact ? ' (identical to the receipt)' : ''}`],
          ['receipt', r.receiptOutputHash],
          ['model', r.modelVerified ? `${loaded.receipt.modelSha256} (bytes checked)` : 'not verified'],
          ...(r.maxAbsDiff !== null ? ([['max |diff|', String(r.maxAbsDiff)]] as [string, string][]) : []),
          ['runtime', `${r.runtime.name} (${r.runtime.backend})`],
          ...(r.reasons.length ? ([['reasons', r.reasons.join(', ')]] as [string, string][]) : []),
        ]);
        for (const [name, t] of Object.entries(r.outputs)) process.stdout.write(`  ${name}  ${tensorLine(t)}\n`);
      }
      if (!r.matches) process.exitCode = 1;
    });
}

function tensorsOf(file: string): Record<string, unknown> {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return (doc['outputs'] ?? doc) as Record<string, unknown>;
}
