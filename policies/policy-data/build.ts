/**
 * Builds the PolicyData in this folder: core modules from WebAssembly text with wabt, and Newton
 * PolicyData components from JavaScript with componentize-js (newton/, see newton-components.ts).
 * `node --import tsx policies/policy-data/build.ts` writes .proofgate/policy-data/<name>.wasm for each.
 * Modules are identified by the sha256 of their bytes, as models are.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';
import { NEWTON_COMPONENTS, NEWTON_WAT_COMPONENTS, buildNewtonComponent, buildNewtonWatComponent } from './newton-components';

/** The PolicyData modules whose sources live here. */
export const POLICY_DATA_MODULES = ['intent-risk', 'price-feed'] as const;

/** Name of a module in this folder. */
export type PolicyDataModuleName = (typeof POLICY_DATA_MODULES)[number];

/** A built module. */
export interface BuiltPolicyData {
  name: string;
  bytes: Uint8Array;
  /** 0x-prefixed sha256 of `bytes`: the module's identity in policies and the blob store. */
  sha256: string;
  file: string;
}

const SOURCE_DIR = dirname(fileURLToPath(import.meta.url));
/** Where built PolicyData is written (gitignored). */
export const OUT_DIR = join(SOURCE_DIR, '..', '..', '.proofgate', 'policy-data');

/** Compiles WebAssembly text to a validated binary; `filename` only labels error messages. */
export async function compileWat(source: string, filename = 'module.wat'): Promise<Uint8Array> {
  const module = (await wabt()).parseWat(filename, source);
  try {
    module.resolveNames();
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

/** Compiles policy-data/<name>.wat and writes .proofgate/policy-data/<name>.wasm. */
export async function buildPolicyData(name: PolicyDataModuleName, outDir = OUT_DIR): Promise<BuiltPolicyData> {
  const bytes = await compileWat(await readFile(join(SOURCE_DIR, `${name}.wat`), 'utf8'), `${name}.wat`);
  const file = join(outDir, `${name}.wasm`);
  await writeAtomically(file, bytes);
  return { name, bytes, sha256: sha256Hex(bytes), file };
}

/** Writes through a temp file and a rename: concurrent builds (parallel test files) never leave a torn file. */
export async function writeAtomically(file: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

/** 0x-prefixed sha256 of the bytes: a PolicyData binary's identity. */
export function sha256Hex(bytes: Uint8Array): string {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built: BuiltPolicyData[] = [];
  for (const name of POLICY_DATA_MODULES) built.push(await buildPolicyData(name));
  for (const name of Object.keys(NEWTON_WAT_COMPONENTS) as (keyof typeof NEWTON_WAT_COMPONENTS)[]) built.push(await buildNewtonWatComponent(name));
  for (const name of Object.keys(NEWTON_COMPONENTS) as (keyof typeof NEWTON_COMPONENTS)[]) built.push(await buildNewtonComponent(name));
  for (const b of built) console.log(`${b.name}: ${b.bytes.length} bytes, sha256 ${b.sha256} -> ${b.file}`);
}
