import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../local-stack/demo-models';

// Layers point one way: core ← durable-objects ← workers, and core ← the Node services. This test
// reads every import of every source file and fails on one that crosses a layer the wrong way.

/** The Node services: deployed apart from the Worker, they share only core with it. */
const NODE_SERVICES = ['gpu-backend', 'signer-node', 'facilitator', 'chain', 'local-stack', 'cli', 'scripts', 'bench', 'reliability'];

interface ImportEdge {
  file: string;
  specifier: string;
  /** Repository-relative path of the imported file or folder (relative imports only). */
  target: string | null;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules' || e.name.startsWith('.') || e.name === 'dist') return [];
    const path = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(path) : /\.(ts|mts|mjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

// Static imports, re-exports, side-effect imports and dynamic import() of a literal.
const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => {
    const specifier = (m[1] ?? m[2] ?? m[3])!;
    const target = specifier.startsWith('.') ? relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), specifier)) : null;
    return { file, specifier, target };
  });
}

function topFolder(path: string): string {
  return path.split(/[\\/]/)[0]!;
}

// A benchmark's own Worker (bench/<name>/worker.ts beside its wrangler.toml) runs in workerd, not
// Node: like the gateway Worker it may hold the Durable Objects it measures.
function isBenchWorker(file: string): boolean {
  return /^bench[\\/][^\\/]+[\\/]worker\.ts$/.test(file) && existsSync(join(REPO_ROOT, dirname(file), 'wrangler.toml'));
}

function crossings(layer: string, forbidden: (edge: ImportEdge) => boolean): string[] {
  return sourceFiles(layer)
    .flatMap(importsOf)
    .filter(forbidden)
    .map((e) => `${e.file} imports ${e.specifier}`);
}

describe('layers', () => {
  it('finds the imports it checks (the scanner works)', () => {
    const edges = importsOf('workers/index.ts');
    assert.ok(
      edges.some((e) => e.target === 'durable-objects/attestation-ledger'),
      'workers/index.ts re-exports the Durable Objects',
    );
    assert.ok(edges.some((e) => e.specifier === 'itty-router'));
  });

  it('core imports only core, and no Node built-in', () => {
    assert.deepEqual(
      crossings('core', (e) => e.specifier.startsWith('node:') || (e.target !== null && topFolder(e.target) !== 'core')),
      [],
    );
  });

  it('durable-objects import only core and the schema, never workers/', () => {
    assert.deepEqual(
      crossings(
        'durable-objects',
        (e) => e.specifier.startsWith('node:') || (e.target !== null && !['core', 'schema', 'durable-objects'].includes(topFolder(e.target))),
      ),
      [],
    );
  });

  it('the Worker never imports a Node service', () => {
    assert.deepEqual(
      crossings('workers', (e) => e.target !== null && NODE_SERVICES.includes(topFolder(e.target))),
      [],
    );
  });

  it('Node services never import the Worker or its Durable Objects', () => {
    for (const service of NODE_SERVICES) {
      assert.deepEqual(
        crossings(service, (e) => e.target !== null && ['workers', 'durable-objects'].includes(topFolder(e.target)) && !isBenchWorker(e.file)),
        [],
        service,
      );
    }
  });

  it('each Node service deployed on its own imports no other service but the tooling it runs on', () => {
    // The backend and the signer node ship alone to operators' machines: they may use core only.
    for (const service of ['gpu-backend', 'signer-node']) {
      assert.deepEqual(
        crossings(service, (e) => e.target !== null && ![service, 'core'].includes(topFolder(e.target))),
        [],
        service,
      );
    }
  });
});
