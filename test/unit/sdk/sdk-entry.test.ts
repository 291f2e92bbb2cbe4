import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../../local-stack/demo-models';

// The SDK runs in browsers and Workers: nothing its entry reaches, in sdk/src or in the core files it
// bundles, may import a Node built-in; and it reaches nothing outside sdk/ and core/ (what it ships).

function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
      const target = relative(REPO_ROOT, resolve(REPO_ROOT, dirname(file), m[1]!));
      const candidates = [`${target}.ts`, join(target, 'index.ts'), target];
      const found = candidates.find((c) => {
        try {
          return readFileSync(join(REPO_ROOT, c)) !== undefined;
        } catch {
          return false;
        }
      });
      if (found) visit(found);
    }
  };
  visit(entry);
  return seen;
}

describe('the SDK entry', () => {
  const files = [...reachable('sdk/src/index.ts')];

  it('reaches only sdk/src and core', () => {
    assert.ok(files.length > 10);
    assert.deepEqual(
      files.filter((f) => !f.startsWith('sdk/src/') && !f.startsWith('core/')),
      [],
    );
  });

  it('imports no Node built-in', () => {
    const offending = files.filter((f) =>
      /from\s*['"]node:|import\(\s*['"]node:|from\s*['"](fs|path|crypto|buffer|os|child_process)['"]/.test(readFileSync(join(REPO_ROOT, f), 'utf8')),
    );
    assert.deepEqual(offending, []);
  });

  it('is published as side-effect free ESM with types', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'sdk', 'package.json'), 'utf8'));
    assert.equal(pkg.name, '@proofgate/sdk');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.sideEffects, false);
    assert.ok(pkg.exports['.'].types && pkg.exports['.'].import);
    assert.ok(readdirSync(join(REPO_ROOT, 'sdk', 'src')).includes('index.ts'));
  });
});
