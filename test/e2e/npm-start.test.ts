import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import type { Address } from 'viem';
import { verifyReceipt } from '../../core/receipts';
import { REPO_ROOT } from '../../local-stack/demo-models';
import { readStackFile } from '../../local-stack/stack-file';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start', () => {
  it('brings the stack up, prints a curl that returns verified outputs and a paid call that settles, and Ctrl-C stops every process', {
    timeout: 240_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'proofgate-start-'));
    const stackFile = join(dir, 'local-stack.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'scripts/start.ts', '--state', join(dir, 'state'), '--port', '0', '--stack-file', stackFile],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 180_000;
      while (!output.includes('Press Ctrl-C to stop everything.')) {
        if (child.exitCode !== null || Date.now() > deadline) assert.fail(`npm start did not come up:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const curl = output
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.startsWith('curl -s -X POST'));
      assert.ok(curl, output);
      const { stdout } = await run('sh', ['-c', curl], { cwd: REPO_ROOT });
      const reply = JSON.parse(stdout) as { outputs: Record<string, unknown>; receipt: Parameters<typeof verifyReceipt>[0] };
      const stack = await readStackFile(stackFile);
      assert.equal(stack.backends.length, 3);
      assert.deepEqual(
        stack.models.map((m) => m.name),
        ['silero-vad', 'ppocr-det', 'ppocr-det-metered'],
      );
      assert.ok(/^[0-9a-f]+$/i.test(stack.models[0]!.sha256.slice(2)));
      const verdict = await verifyReceipt(reply.receipt, {
        outputs: reply.outputs,
        trustedBackends: stack.backends.map((b) => b.address as Address),
      });
      assert.deepEqual(verdict.reasons, []);
      assert.equal((await fetch(`${stack.gateway}/healthz`)).status, 200);
      // The paid demo model, paid by the printed command's script with the official x402 client.
      assert.ok(output.includes('npm run pay -- silero-vad'));
      const paid = await run(process.execPath, ['--import', 'tsx', 'scripts/pay.ts', 'silero-vad', '--stack-file', stackFile], { cwd: REPO_ROOT });
      assert.match(paid.stdout, /^HTTP 200$/m);
      assert.match(paid.stdout, /"state":"settled"/);
      assert.match(paid.stdout, /receipt verifies offline: true/);
      // The metered demo model, paid with x402 upto: charged what its receipt signs, at most the cap.
      assert.ok(output.includes('npm run pay -- ppocr-det-metered --scheme upto'));
      const upto = ['--scheme', 'upto', '--input', join(dir, 'state', 'demo-request.json'), '--stack-file', stackFile];
      const metered = await run(process.execPath, ['--import', 'tsx', 'scripts/pay.ts', 'ppocr-det-metered', ...upto], { cwd: REPO_ROOT });
      assert.match(metered.stdout, /^HTTP 200$/m);
      assert.match(metered.stdout, /"scheme":"upto","state":"settled"/);
      assert.match(metered.stdout, /receipt verifies offline: true/);
      // The printed intent: three operators, a stake-weighted BLS quorum, an attestation.
      const intentCurl = output
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.includes('/v1/intents'));
      assert.ok(intentCurl, output);
      const task = JSON.parse((await run('sh', ['-c', intentCurl], { cwd: REPO_ROOT })).stdout) as {
        status: string;
        attestation: { aggregateSignature: string; allowed: boolean };
      };
      assert.equal(task.status, 'completed');
      assert.equal(task.attestation.allowed, true);
      assert.match(task.attestation.aggregateSignature, /^0x[0-9a-f]{192}$/);
      assert.equal(stack.operators?.length, 3);
      assert.match(stack.chain?.attestationValidator ?? '', /^0x[0-9a-fA-F]{40}$/);
      // The printed quorum call: the three backends belong to the three operators, whose stake attests the output.
      const quorumCurl = output
        .split('\n')
        .map((l) => l.trim())
        .find((l) => l.includes('mode=quorum'));
      assert.ok(quorumCurl, output);
      const attested = JSON.parse((await run('sh', ['-c', quorumCurl], { cwd: REPO_ROOT })).stdout) as { attestation: { signers: string[] } };
      assert.deepEqual(attested.attestation.signers, ['operator-1', 'operator-2', 'operator-3']);

      child.kill('SIGINT');
      assert.equal(await exited, 0);
      for (const b of stack.backends) assert.equal(alive(b.pid), false, `backend ${b.pid} still running`);
      assert.equal(existsSync(stackFile), false);
      await assert.rejects(fetch(`${stack.gateway}/healthz`));
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
