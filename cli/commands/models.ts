import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { fields, json, table } from '../print';
import { UsageError, client, globals } from '../cli-config';
import type { ModelVersion, PublishOptions, PublishedModel } from '../../sdk/src/index';

/** `proofgate models publish|list|show`. */
export function modelsCommand(program: Command): void {
  const models = program.command('models').description('publish and list models');

  models
    .command('publish <file>')
    .description('publish an ONNX file as the next version of a model (admin); above --part-bytes as a multipart upload')
    .option('--name <name>', 'model name (default: the file name without .onnx)')
    .option('--price <units>', "fixed price per call in the payment token's smallest units (0: free)")
    .option('--metered', 'price by backend run time: min(cap, base + rate-per-ms × run ms), paid with x402 upto')
    .option('--rate-per-ms <units>', 'metered: price per millisecond of backend run time (above 0)')
    .option('--base <units>', 'metered: price before the run time', '0')
    .option('--cap <units>', 'metered: most one call costs (what a payer authorizes)')
    .option('--settlement <mode>', 'when a priced call settles: sync (before answering) or async', 'sync')
    .option('--part-bytes <bytes>', 'models above this size go as a multipart upload in parts of this size (5 to 64 MiB)', String(32 * 1024 * 1024))
    .addHelpText(
      'after',
      `
Examples:
  proofgate models publish model.onnx --name my-model --price 1000
  proofgate models publish ocr.onnx --name ocr-metered --metered --rate-per-ms 100 --base 500 --cap 100000
`,
    )
    .action(async (file: string, opts: PublishFlags, cmd: Command) => {
      const g = globals(cmd);
      const terms = publishTerms(opts);
      const bytes = new Uint8Array(readFileSync(file));
      const name = opts.name ?? basename(file, extname(file));
      const bar = new SingleBar({
        format: `uploading ${name} [{bar}] {percentage}% | {value}/{total} bytes`,
        stream: process.stderr,
        hideCursor: true,
        // Not a terminal (a CI log, a pipe): a progress line every 2 s and the last one at the end.
        noTTYOutput: true,
      });
      bar.start(bytes.length, 0);
      let published: PublishedModel;
      try {
        published = await (await client(g)).publishModel(name, bytes, {
          ...terms,
          onProgress: (sent) => bar.update(sent),
        });
        bar.update(bytes.length);
      } finally {
        bar.stop();
      }
      if (g.json) return json(published);
      fields([
        ['model', `${published.name} v${published.version}${published.created ? '' : ' (already published)'}`],
        ['sha256', `${published.sha256} (the bytes sent)`],
        ['size', `${published.size} bytes`],
        ['price', `${priceText(published)}${published.price === '0' ? '' : ` (${published.settlement} settlement)`}`],
        ['inputs', published.inputs.map((i) => `${i.name}: ${i.type}[${i.dims?.map((d) => d ?? '?').join(', ') ?? '…'}]`).join('; ')],
        ['outputs', published.outputs.map((o) => `${o.name}: ${o.type}[${o.dims?.map((d) => d ?? '?').join(', ') ?? '…'}]`).join('; ')],
      ]);
    });

  models
    .command('list')
    .description('the latest version of every model')
    .addHelpText('after', '\nExample:\n  proofgate models list --json\n')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const list = await (await client(g)).listModels();
      if (g.json) return json(list);
      table(
        ['NAME', 'VERSION', 'PRICE', 'SHA256'],
        list.map((m) => [m.name, String(m.latestVersion), priceText(m), m.sha256]),
      );
    });

  models
    .command('show <name>')
    .description('every version of a model')
    .addHelpText('after', '\nExample:\n  proofgate models show ppocr-det\n')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const versions = await (await client(g)).getModel(name);
      if (g.json) return json(versions);
      table(
        ['VERSION', 'PRICE', 'SIZE', 'SHA256', 'CREATED'],
        versions.map((v) => [String(v.version), priceText(v), String(v.size), v.sha256, v.createdAt]),
      );
    });
}

interface PublishFlags {
  name?: string;
  price?: string;
  metered?: boolean;
  ratePerMs?: string;
  base: string;
  cap?: string;
  settlement: string;
  partBytes: string;
}

const UNITS = /^(0|[1-9][0-9]*)$/;

// The publish terms of the flags: a fixed price, or metered pricing; the gateway checks the amounts too.
function publishTerms(opts: PublishFlags): Pick<PublishOptions, 'price' | 'metered' | 'settlement' | 'partBytes'> {
  if (opts.settlement !== 'sync' && opts.settlement !== 'async') throw new UsageError('--settlement is sync or async');
  const partBytes = Number(opts.partBytes);
  if (!Number.isSafeInteger(partBytes) || partBytes <= 0) throw new UsageError('--part-bytes is a number of bytes');
  const common = { settlement: opts.settlement, partBytes } as const;
  if (!opts.metered) {
    if (opts.ratePerMs !== undefined || opts.cap !== undefined) throw new UsageError('--rate-per-ms and --cap price a --metered model');
    const price = opts.price ?? '0';
    if (!UNITS.test(price)) throw new UsageError('--price is an integer number of token units');
    return { ...common, price };
  }
  if (opts.price !== undefined) throw new UsageError('a --metered model takes --rate-per-ms, --base and --cap, not --price');
  if (opts.ratePerMs === undefined || opts.cap === undefined) throw new UsageError('a --metered model needs --rate-per-ms and --cap');
  for (const [flag, value] of [
    ['--rate-per-ms', opts.ratePerMs],
    ['--base', opts.base],
    ['--cap', opts.cap],
  ] as const) {
    if (!UNITS.test(value)) throw new UsageError(`${flag} is an integer number of token units`);
  }
  return { ...common, metered: { ratePerMs: opts.ratePerMs, base: opts.base, cap: opts.cap } };
}

/** A model's price for people: free, a fixed price, or metered terms with their cap. */
export function priceText(m: Pick<ModelVersion, 'price' | 'pricing' | 'ratePerMs' | 'base'>): string {
  if (m.pricing === 'metered') return `${m.base} + ${m.ratePerMs}/ms, at most ${m.price} units (metered)`;
  return m.price === '0' ? 'free' : `${m.price} units per call`;
}
