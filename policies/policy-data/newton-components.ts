/**
 * Builds the Newton PolicyData components in newton/: from JavaScript, as Newton builds its packs
 * (`jco componentize policy.js --wit newton-provider.wit -n newton-provider --disable …`), through
 * componentize-js's API, offline; and from WebAssembly text written against the canonical ABI,
 * wrapped as `wasm-tools component embed` + `component new` do (through jco's wasm-tools). A
 * JavaScript build is slow (SpiderMonkey is pre-initialised with the source), so its output is kept
 * in .proofgate/policy-data/ with the hash of everything that went into it, and concurrent
 * builders (parallel test files) wait for each other through a lock file.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OUT_DIR, compileWat, sha256Hex, writeAtomically, type BuiltPolicyData } from './build';

/** Features componentize-js can leave out of a component. */
export type ComponentizeFeature = 'stdio' | 'random' | 'clocks' | 'http' | 'fetch-event';

/** What Newton's packs leave out (newton-policy-packs README): no WASI HTTP, random, fetch-event or stdio. */
export const NEWTON_DISABLED_FEATURES: readonly ComponentizeFeature[] = ['http', 'random', 'fetch-event', 'stdio'];

/**
 * The components whose sources live in newton/, with the features each leaves out. `screening` is
 * built with Newton's own flags (newton-policy-packs README: no WASI HTTP, random, fetch-event or
 * stdio); `limits-probe` keeps random and stdio so the sandbox's deterministic WASI is exercised.
 */
export const NEWTON_COMPONENTS = {
  screening: { disable: NEWTON_DISABLED_FEATURES },
  'limits-probe': { disable: ['http', 'fetch-event'] },
} satisfies Record<string, { disable: readonly ComponentizeFeature[] }>;

/** Name of a JavaScript component in newton/. */
export type NewtonComponentName = keyof typeof NEWTON_COMPONENTS;

/** Components written as core modules in WebAssembly text (newton/<name>.wat), with the WIT each is wrapped against. */
export const NEWTON_WAT_COMPONENTS = {
  'status-v01': { wit: 'newton-provider-0.1.0.wit' },
} as const;

/** Name of a WebAssembly-text component in newton/. */
export type NewtonWatComponentName = keyof typeof NEWTON_WAT_COMPONENTS;

const SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'newton');
const WIT_FILE = join(SOURCE_DIR, 'newton-provider.wit');
const WORLD = 'newton-provider';
/** A lock older than this is from a build that died; it is taken over. */
const STALE_LOCK_MS = 10 * 60_000;

const COMPONENTIZE_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@bytecodealliance/componentize-js')), 'utf8')) as { version: string }
).version;

/**
 * Builds newton/<name>.js against newton-provider.wit into .proofgate/policy-data/<name>.wasm, or
 * returns the kept build when its sources, WIT, flags and componentize-js version are unchanged.
 */
export async function buildNewtonComponent(name: NewtonComponentName, outDir = OUT_DIR): Promise<BuiltPolicyData> {
  const sourcePath = join(SOURCE_DIR, `${name}.js`);
  const file = join(outDir, `${name}.wasm`);
  const disable = [...NEWTON_COMPONENTS[name].disable];
  const key = createHash('sha256')
    .update(await readFile(sourcePath))
    .update(await readFile(WIT_FILE))
    .update(JSON.stringify({ componentize: COMPONENTIZE_VERSION, disable, world: WORLD }))
    .digest('hex');
  const kept = async (): Promise<BuiltPolicyData | undefined> => {
    try {
      if ((await readFile(`${file}.key`, 'utf8')) !== key) return undefined;
      const bytes = new Uint8Array(await readFile(file));
      return { name, bytes, sha256: sha256Hex(bytes), file };
    } catch {
      return undefined;
    }
  };
  const existing = await kept();
  if (existing) return existing;

  const release = await lock(`${file}.lock`);
  try {
    const built = await kept();
    if (built) return built;
    const bytes = await componentizeOffline(sourcePath, WIT_FILE, disable);
    await writeAtomically(file, bytes);
    await writeAtomically(`${file}.key`, key);
    return { name, bytes, sha256: sha256Hex(bytes), file };
  } finally {
    await release();
  }
}

/**
 * Compiles newton/<name>.wat and wraps the core module into a component of its WIT world: the
 * world's type information is embedded (`component embed`), then the component made (`component new`).
 */
export async function buildNewtonWatComponent(name: NewtonWatComponentName, outDir = OUT_DIR): Promise<BuiltPolicyData> {
  const core = await compileWat(await readFile(join(SOURCE_DIR, `${name}.wat`), 'utf8'), `${name}.wat`);
  const witSource = await readFile(join(SOURCE_DIR, NEWTON_WAT_COMPONENTS[name].wit), 'utf8');
  const { componentEmbed, componentNew } = await import('@bytecodealliance/jco-transpile/wasm-tools');
  const bytes = await componentNew(await componentEmbed({ binary: core, witSource, world: WORLD }), []);
  const file = join(outDir, `${name}.wasm`);
  await writeAtomically(file, bytes);
  return { name, bytes, sha256: sha256Hex(bytes), file };
}

/**
 * componentize-js (what `jco componentize` runs) on a JavaScript file against a WIT file, offline.
 * Its WIT parser is a component that reads files through preview2-shim's WASI filesystem, which
 * since 0.26 preopens nothing by default (0.25 preopened `/`): jco 1.35's CLI then fails with
 * "failed to get path metadata: No such file or directory (os error 44)" (WASI's ENOENT) before it
 * reads the WIT. Preopening the WIT's own folder at its real path lets the parser read it, and
 * nothing else.
 */
export async function componentizeOffline(
  sourcePath: string,
  witPath: string,
  disable: readonly ComponentizeFeature[],
  worldName = WORLD,
): Promise<Uint8Array> {
  const witDir = dirname(resolve(witPath));
  // The package's first "types" condition is its browser build's; Node's functions take host paths.
  const filesystem = (await import('@bytecodealliance/preview2-shim/filesystem')) as unknown as {
    _getPreopens(): [unknown, string][];
    _addPreopen(virtualPath: string, hostPath: string): void;
  };
  if (!filesystem._getPreopens().some(([, path]) => path === witDir)) filesystem._addPreopen(witDir, witDir);
  const { componentize } = await import('@bytecodealliance/componentize-js');
  const { component } = await componentize({ sourcePath: resolve(sourcePath), witPath: resolve(witPath), worldName, disableFeatures: [...disable] });
  return component;
}

/** Takes an exclusive lock file, waiting while another process holds it; resolves with its release. */
async function lock(path: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > STALE_LOCK_MS) await rm(path, { force: true });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}
