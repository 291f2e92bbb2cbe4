// Builds the published package into dist/: one ESM bundle (the SDK and the parts of ../core it uses,
// so the tarball needs nothing outside sdk/; npm dependencies stay imports) and its type
// declarations. Plain JavaScript so that `npm pack` runs it on any Node >= 20 (prepack).
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const dist = join(here, 'dist');

/** Builds dist/ (bundle + declarations); throws on any error. */
export async function buildSdk() {
  rmSync(dist, { recursive: true, force: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: { index: join(here, 'src', 'index.ts') },
    outdir: dist,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    external: Object.keys(pkg.dependencies),
    sourcemap: true,
    logLevel: 'warning',
  });
  const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('declarations failed to build (tsc)');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildSdk().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
