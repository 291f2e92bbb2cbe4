/**
 * Builds the explorer's scripts into explorer/public/build (not committed): one small self-contained
 * ES module per page, bundled with esbuild from explorer/src and the SDK's sources.
 *   node --import tsx explorer/build.ts
 * File names never change between builds, and each file is replaced whole (written aside, then
 * renamed): a running `wrangler dev` serves the set of asset files it found at start, and another
 * stack may rebuild while it runs.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The folder wrangler serves (wrangler.toml [assets]). */
export const EXPLORER_ASSETS = join(here, 'public');
const OUT = join(EXPLORER_ASSETS, 'build');
const PAGES = ['home', 'receipt', 'verify', 'try'];

/**
 * The pages call free models only: the SDK's paying module (the x402 client, which infer loads only
 * to pay a 402) is replaced by one that refuses, which keeps the x402 client out of the bundles.
 */
const noPayments: Plugin = {
  name: 'explorer-pays-nothing',
  setup(b) {
    b.onResolve({ filter: /\/paid-fetch$/ }, () => ({ path: 'paid-fetch', namespace: 'explorer-pays-nothing' }));
    b.onLoad({ filter: /.*/, namespace: 'explorer-pays-nothing' }, () => ({
      contents: "export function paidFetch() { throw new Error('the explorer calls free models only'); }",
      loader: 'js',
    }));
  },
};

/** Builds the page scripts; returns the output files and their sizes. */
export async function buildExplorer(): Promise<{ file: string; bytes: number }[]> {
  const result = await build({
    entryPoints: PAGES.map((page) => ({ in: join(here, 'src', `${page}.ts`), out: page })),
    outdir: OUT,
    write: false,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    sourcemap: 'linked',
    // Re-execution (onnxruntime-web) is not part of any page.
    external: ['onnxruntime-web'],
    plugins: [noPayments],
    logLevel: 'warning',
  });
  await mkdir(OUT, { recursive: true });
  const written = new Set<string>();
  for (const file of result.outputFiles) {
    const aside = `${file.path}.${process.pid}.tmp`;
    await writeFile(aside, file.contents);
    await rename(aside, file.path);
    written.add(basename(file.path));
  }
  for (const name of await readdir(OUT)) if (!written.has(name) && !name.endsWith('.tmp')) await rm(join(OUT, name), { force: true });
  return result.outputFiles.filter((f) => f.path.endsWith('.js')).map((f) => ({ file: f.path, bytes: f.contents.byteLength }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildExplorer().then(
    (files) => {
      for (const f of files) process.stdout.write(`${f.file}  ${(f.bytes / 1024).toFixed(1)} KiB\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
