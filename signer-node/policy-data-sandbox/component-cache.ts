/**
 * Components become runnable here, once per component: the world is checked against
 * `newton:provider`, the component is transpiled with jco (its core modules plus an ES module of
 * bindings), every core module gets its memory capped, and the result is kept on disk under the
 * component's sha256 (and in memory, compiled), so a restarted node does not transpile again.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transpileBytes } from '@bytecodealliance/jco-transpile';
import { componentWit } from '@bytecodealliance/jco-transpile/wasm-tools';
import { InvalidModuleError } from './errors';
import { capModuleMemory } from './memory-cap';
import { checkNewtonWorld, type NewtonWorld } from './newton-world';

/** A component ready to run: its bindings module and compiled, memory-capped core modules. */
export interface PreparedComponent {
  /** 0x-prefixed sha256 of the component's bytes. */
  sha256: string;
  world: NewtonWorld;
  /** file: URL of the transpiled bindings (an ES module exporting `instantiate`). */
  moduleUrl: string;
  /** Compiled core modules by the file names the bindings ask for. */
  coreModules: Record<string, WebAssembly.Module>;
  /** The memory cap written into the core modules, in 64 KiB pages. */
  maxMemoryPages: number;
}

/** What is written next to the transpiled files; a cache entry is reused only if it matches. */
interface Manifest {
  transpiler: string;
  maxMemoryPages: number;
  world: NewtonWorld;
  coreModules: string[];
}

const BINDINGS_FILE = 'component.mjs';
const MANIFEST_FILE = 'manifest.json';
/** Compiled components kept in memory; older ones are compiled again from disk when needed. */
const MEMORY_ENTRIES = 16;

const TRANSPILER = `@bytecodealliance/jco-transpile@${
  (JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@bytecodealliance/jco-transpile')), 'utf8')) as { version: string })
    .version
}`;

/** Transpiled components by sha256, on disk under `dir` and compiled in memory. */
export class ComponentCache {
  private readonly entries = new Map<string, Promise<PreparedComponent>>();

  constructor(readonly dir: string = join(tmpdir(), 'proofgate-policy-data-components')) {}

  /**
   * The component prepared to run with `maxMemoryPages`; concurrent calls share one preparation.
   * Throws InvalidModuleError, ForbiddenImportError or MemoryLimitError for a component that
   * does not fit (a failed preparation is not kept, so it is tried again next time).
   */
  prepare(bytes: Uint8Array, maxMemoryPages: number): Promise<PreparedComponent> {
    const sha256 = `0x${createHash('sha256').update(bytes).digest('hex')}`;
    const key = `${sha256}-m${maxMemoryPages}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = this.load(bytes, sha256, key, maxMemoryPages);
      this.entries.set(key, entry);
      entry.catch(() => this.entries.delete(key));
      if (this.entries.size > MEMORY_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    }
    return entry;
  }

  /** Starts jco's code generator ahead of the first component, which otherwise pays for it. */
  async warm(): Promise<void> {
    await import('@bytecodealliance/jco-transpile');
  }

  private async load(bytes: Uint8Array, sha256: string, key: string, maxMemoryPages: number): Promise<PreparedComponent> {
    const dir = join(this.dir, key);
    const cached = await readManifest(dir);
    const manifest =
      cached?.transpiler === TRANSPILER && cached.maxMemoryPages === maxMemoryPages ? cached : await this.transpile(bytes, dir, maxMemoryPages);
    const coreModules: Record<string, WebAssembly.Module> = {};
    for (const name of manifest.coreModules) coreModules[name] = await compile(await readFile(join(dir, name)));
    return { sha256, world: manifest.world, moduleUrl: pathToFileURL(join(dir, BINDINGS_FILE)).href, coreModules, maxMemoryPages };
  }

  /** Checks the world, transpiles, caps memories and writes the entry (atomically: temp dir, then rename). */
  private async transpile(bytes: Uint8Array, dir: string, maxMemoryPages: number): Promise<Manifest> {
    let wit: string;
    try {
      wit = await componentWit(bytes);
    } catch (e) {
      throw new InvalidModuleError(`not a valid component: ${describe(e)}`);
    }
    const world = checkNewtonWorld(wit);
    let files: Record<string, Uint8Array>;
    try {
      ({ files } = await transpileBytes(bytes, { name: 'component', instantiation: 'sync', emitTypescriptDeclarations: false }));
    } catch (e) {
      throw new InvalidModuleError(`the component could not be transpiled: ${describe(e)}`);
    }
    const bindings = files['component.js'];
    if (!bindings) throw new InvalidModuleError('transpiling the component produced no bindings');
    const coreModules = Object.keys(files).filter((name) => name.endsWith('.wasm'));
    const manifest: Manifest = { transpiler: TRANSPILER, maxMemoryPages, world, coreModules };

    const tmp = `${dir}.${randomUUID()}.tmp`;
    await mkdir(tmp, { recursive: true });
    try {
      await writeFile(join(tmp, BINDINGS_FILE), bindings);
      for (const name of coreModules) await writeFile(join(tmp, name), capModuleMemory(files[name]!, maxMemoryPages));
      await writeFile(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2));
      await rename(tmp, dir).catch(async (e: unknown) => {
        // Another node process sharing the cache wrote this entry first: use theirs. A stale
        // entry (another transpiler or cap) is replaced.
        const other = await readManifest(dir);
        if (other?.transpiler === TRANSPILER && other.maxMemoryPages === maxMemoryPages) return;
        if (other === undefined && (e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        await rm(dir, { recursive: true, force: true });
        await rename(tmp, dir);
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    return manifest;
  }
}

/** Node's asynchronous WebAssembly.compile, which the repo's Cloudflare typings leave out. */
const compile = (WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> }).compile;

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 512);
}
