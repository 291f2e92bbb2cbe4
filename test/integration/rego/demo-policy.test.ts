import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../../local-stack/demo-models';

describe('the demo admission policy', () => {
  it('passes its own test_ rules under `rego test` (like opa test)', async () => {
    // Its own files only: other policies under policies/ bring test_ rules of their own.
    const files = ['policies/admission.rego', 'policies/admission_test.rego', 'policies/admission.params.json'];
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'cli/rego.ts', 'test', ...files], {
      cwd: REPO_ROOT,
      timeout: 120_000,
    });
    assert.match(stdout, /^PASS: 6\/6$/m);
  });
});
