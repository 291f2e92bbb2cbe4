import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Abi, Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import { proofgateDir, repoRoot } from './repo-paths';

/** A compiled contract: what viem needs to deploy and call it. */
export type CompiledContract = { abi: Abi; bytecode: Hex };

/** Options of compileContract. */
export type CompileOptions = { optimize?: boolean; evmVersion?: string };

/** The compiler rejected the sources; `details.messages` holds its formatted errors. */
export class SolcCompileError extends ProofgateError {
  constructor(message: string, messages: string[]) {
    super('solc_compile_failed', message, 500, { messages });
  }
}

type SolcOutput = {
  errors?: { severity: string; formattedMessage?: string; message: string }[];
  contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
};

type Solc = { compile(input: string, callbacks?: { import(path: string): { contents: string } | { error: string } }): string; version(): string };

// solcjs takes seconds to load (a large emscripten module), so it is only required on a cache miss.
let solc: Solc | undefined;
function loadSolc(): Solc {
  solc ??= createRequire(import.meta.url)('solc') as Solc;
  return solc;
}

// The installed package version keys the cache, so an upgrade of solc never serves stale bytecode.
const solcPackageVersion: string = (JSON.parse(readFileSync(join(repoRoot, 'node_modules', 'solc', 'package.json'), 'utf8')) as { version: string })
  .version;

const importPattern = /^\s*import\s+(?:[^'"]*?\bfrom\s+)?["']([^"']+)["']/gm;

/** Source unit names are paths relative to the main source's folder, with forward slashes. */
function toUnitName(baseDir: string, file: string): string {
  return relative(baseDir, file).split(sep).join('/');
}

/**
 * Reads the main source and everything it imports (transitively), keyed by source unit name.
 * Relative imports resolve against the importing file; bare ones against the contracts folder.
 */
function collectSources(baseDir: string, mainFile: string): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {};
  const pending = [mainFile];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    const unit = toUnitName(baseDir, file);
    // A missing import is left for solc to report, with its location, through the import callback.
    if (sources[unit] || !existsSync(file)) continue;
    const content = readFileSync(file, 'utf8');
    sources[unit] = { content };
    for (const match of content.matchAll(importPattern)) {
      const spec = match[1] as string;
      pending.push(spec.startsWith('.') ? resolve(dirname(file), spec) : resolve(baseDir, spec));
    }
  }
  return sources;
}

/**
 * Compiles one contract with solcjs (standard JSON) and returns its ABI and creation bytecode.
 * Output is cached under .proofgate/cache/solc keyed by the sources, settings and compiler version.
 */
export function compileContract(sourcePath: string, contractName: string, opts: CompileOptions = {}): CompiledContract {
  const mainFile = isAbsolute(sourcePath) ? sourcePath : resolve(repoRoot, sourcePath);
  if (!existsSync(mainFile)) throw new SolcCompileError(`source not found: ${mainFile}`, []);
  const baseDir = dirname(mainFile);
  const sources = collectSources(baseDir, mainFile);
  const mainUnit = toUnitName(baseDir, mainFile);
  const optimize = opts.optimize ?? true;
  const settings = {
    evmVersion: opts.evmVersion ?? 'prague',
    optimizer: { enabled: optimize, runs: 200 },
    outputSelection: { [mainUnit]: { [contractName]: ['abi', 'evm.bytecode.object'] } },
  };
  const input = { language: 'Solidity', sources, settings };
  const key = createHash('sha256')
    .update(JSON.stringify({ solc: solcPackageVersion, input }))
    .digest('hex');
  const cacheDir = join(proofgateDir, 'cache', 'solc');
  const cacheFile = join(cacheDir, `${key}.json`);
  if (existsSync(cacheFile)) return JSON.parse(readFileSync(cacheFile, 'utf8')) as CompiledContract;

  const output = JSON.parse(
    loadSolc().compile(JSON.stringify(input), {
      // Sources are pre-collected; this only answers imports the scan above could not see.
      import: (path) => {
        const file = resolve(baseDir, path);
        return existsSync(file) ? { contents: readFileSync(file, 'utf8') } : { error: `not found: ${path}` };
      },
    }),
  ) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    const messages = errors.map((e) => e.formattedMessage ?? e.message);
    throw new SolcCompileError(`solc failed to compile ${mainUnit}:\n${messages.join('\n')}`, messages);
  }
  const compiled = output.contracts?.[mainUnit]?.[contractName];
  if (!compiled) throw new SolcCompileError(`contract ${contractName} not found in ${mainUnit}`, []);
  const result: CompiledContract = { abi: compiled.abi, bytecode: `0x${compiled.evm.bytecode.object}` };

  mkdirSync(cacheDir, { recursive: true });
  // Write-then-rename so a concurrent reader never sees a half-written cache entry.
  const tmp = `${cacheFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(result));
  renameSync(tmp, cacheFile);
  return result;
}
