import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError, client, globals } from '../cli-config';
import { inferenceJson, json, printInference } from '../print';
import { readInputs } from '../tensor-files';

interface InferOptions {
  input: string[];
  version?: string;
  mode?: string;
  k?: string;
  keyFile?: string;
  maxPrice?: string;
  save?: string;
  transport: 'auto' | 'json';
}

/** `proofgate infer <model> --input …`. */
export function inferCommand(program: Command): void {
  program
    .command('infer <model>')
    .description(
      'run a model: the outputs come back with a receipt that is verified before they are shown; priced models are paid with x402 (exact, or upto for metered models)',
    )
    .requiredOption('-i, --input <spec...>', 'FILE.json (tensors), [NAME=]FILE.npy, or [NAME=]IMAGE.png|.jpg')
    .option('--version <n>', 'model version (default: the latest)')
    .option('--mode <mode>', 'execution mode, where the gateway offers one (e.g. quorum)')
    .option('--k <n>', 'backends for a quorum mode')
    .option('--max-price <units>', "most this call may cost, in token units (needed to pay; a metered model's cap must fit under it)")
    .option('--key-file <file>', 'payer private key (default: PROOFGATE_PAYER_KEY, or the local stack dev payer)')
    .option('--transport <t>', 'auto (binary when offered) or json', 'auto')
    .option('--save <file>', 'write inputs, outputs and receipt as JSON, for `receipts verify|reexec FILE`')
    .addHelpText(
      'after',
      `
Examples:
  proofgate infer ppocr-det --input page.png
  proofgate infer tiny-add --input inputs.json --json
  proofgate infer silero-vad --input input=frame.npy --input state=state.npy --input sr.json --max-price 1000
  proofgate infer ppocr-det-metered --input page.png --max-price 100000   # metered: authorizes the cap (x402 upto), pays what the run cost

A paid answer lost on the way (a dropped connection) is fetched again from the gateway, never paid twice.
`,
    )
    .action(async (model: string, opts: InferOptions, cmd: Command) => {
      const g = globals(cmd);
      if (opts.transport !== 'auto' && opts.transport !== 'json') throw new UsageError('--transport is auto or json');
      const c = await client(g, opts);
      const signature = (await c.getModel(model))[0];
      const inputs = readInputs(opts.input, signature?.inputs ?? []);
      const result = await c.infer(model, inputs, {
        ...(opts.version ? { version: Number(opts.version) } : {}),
        ...(opts.mode ? { mode: opts.mode } : {}),
        ...(opts.k ? { k: Number(opts.k) } : {}),
        transport: opts.transport,
      });
      if (opts.save) {
        const { tensorMapToJson, toTensors } = await import('../../sdk/src/index');
        writeFileSync(opts.save, `${JSON.stringify(await inferenceJson(result, tensorMapToJson(toTensors(inputs))), null, 2)}\n`);
      }
      if (g.json) json(await inferenceJson(result));
      else printInference(result);
    });
}
