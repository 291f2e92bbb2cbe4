import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../local-stack/demo-models';
import { doubleSpend } from './double-spend';
import { faults } from './faults';
import { checkFigures, printTable, type Figures } from './figures';
import { forgeries } from './forgery';
import { load } from './load';
import { malformed } from './malformed';
import { launchReliabilityStack } from './reliability-stack';
import { secretsAndAccess } from './secrets';
import type { SuiteContext } from './suite-context';

// npm run reliability [-- --quick] [-- --only a,b]: starts its own local stack (the gateway Worker in
// workerd through miniflare, with D1, R2 and Durable Objects; two backends; three operators; anvil;
// the facilitator), runs each section against it, prints the figures, writes them to
// .proofgate/reliability.json and exits non-zero when a figure the promises need does not hold.

const SECTIONS = ['doubleSpend', 'forgeries', 'malformed', 'faults', 'load', 'secrets'] as const;
type Section = (typeof SECTIONS)[number];

function parseArgs(argv: string[]): { quick: boolean; only: Set<Section> } {
  const quick = argv.includes('--quick');
  const at = argv.indexOf('--only');
  const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? (at >= 0 ? argv[at + 1] : undefined);
  const only = new Set((onlyArg ? onlyArg.split(',') : [...SECTIONS]) as Section[]);
  for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s}; sections: ${SECTIONS.join(', ')}`);
  if (argv.includes('--help')) {
    process.stdout.write(`npm run reliability [-- --quick] [-- --only ${SECTIONS.join(',')}]\n`);
    process.exit(0);
  }
  return { quick, only };
}

async function main(): Promise<number> {
  const { quick, only } = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const log = (line: string) => process.stdout.write(`[reliability ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}\n`);
  log(`${quick ? 'quick' : 'full'} run: ${[...only].join(', ')}`);
  const rs = await launchReliabilityStack((l) => log(`stack: ${l}`));
  const ctx: SuiteContext = { rs, stack: rs.stack, quick, log, generatedKeys: [] };
  const figures: Figures = { mode: quick ? 'quick' : 'full', startedAt: new Date(started).toISOString() };
  const stopping = async () => {
    await rs.stop().catch((err: unknown) => log(`stopping the stack: ${String(err)}`));
  };
  process.once('SIGINT', () => void stopping().then(() => process.exit(130)));
  try {
    const run = async <K extends Section>(name: K, section: () => Promise<NonNullable<Figures[K]>>) => {
      if (!only.has(name)) return;
      log(`${name}…`);
      const t = Date.now();
      try {
        figures[name] = (await section()) as Figures[K];
      } catch (err) {
        figures.errors = [...(figures.errors ?? []), `${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`];
        log(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      log(`${name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    };
    await run('doubleSpend', () => doubleSpend(ctx));
    await run('forgeries', () => forgeries(ctx));
    await run('malformed', () => malformed(ctx));
    await run('load', () => load(ctx));
    await run('faults', () => faults(ctx));
    // Last: it reads every log the stack and the other sections wrote.
    await run('secrets', () => secretsAndAccess(ctx));
  } finally {
    await stopping();
  }
  figures.seconds = Math.round((Date.now() - started) / 1000);
  const failures = checkFigures(figures, only);
  figures.failures = failures;
  await mkdir(join(REPO_ROOT, '.proofgate'), { recursive: true });
  const out = join(REPO_ROOT, '.proofgate', 'reliability.json');
  await writeFile(out, `${JSON.stringify(figures, null, 2)}\n`);
  printTable(figures, (l) => process.stdout.write(`${l}\n`));
  process.stdout.write(`\nfigures written to ${out} (${figures.seconds} s)\n`);
  if (failures.length) {
    process.stdout.write(`\n${failures.length} figure(s) do not hold:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write('every must-figure holds\n');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[reliability] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
