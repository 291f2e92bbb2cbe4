import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../../local-stack/demo-models';

describe('the demo admission policy', () => {
  it('passes its own test_ rules under `rego test` (like opa test)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/rego.ts', 'test', 'policies/'], { cwd: REPO_ROOT });
    assert.match(stdout, /^PASS: 6\/6$/m);
  });
});
