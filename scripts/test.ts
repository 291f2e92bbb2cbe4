import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../local-stack/demo-models';
import { SHARED_STACK_ENV, launchTestStack } from '../test/support/test-stack';

// npm test [-- paths...]: runs the selected test files (default: all of test/) with Node's test runner.
// When any of them is an integration or end-to-end test, one real local stack (workerd, D1, R2,
// Durable Objects, two backends on onnxruntime) is started first and shared by those files.

function findTests(path: string): string[] {
  const full = join(REPO_ROOT, path);
  if (statSync(full).isFile()) return [full];
  return readdirSync(full, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? findTests(join(path, e.name)) : e.name.endsWith('.test.ts') ? [join(full, e.name)] : [],
  );
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files = (args.length ? args : ['test']).flatMap(findTests).sort();
  const needsStack = files.some((f) => /[/\\]test[/\\](integration|e2e)[/\\]/.test(f));
  const env = { ...process.env };
  let stop = async (): Promise<void> => {};
  if (needsStack) {
    process.stdout.write('[test] starting the shared local stack (workerd + D1 + R2 + Durable Objects + 2 backends)…\n');
    const stack = await launchTestStack({ log: (l) => process.stdout.write(`[test] ${l}\n`) });
    const dir = await mkdtemp(join(tmpdir(), 'proofgate-stack-file-'));
    const stackFile = join(dir, 'local-stack.json');
    await writeFile(stackFile, JSON.stringify(stack));
    env[SHARED_STACK_ENV] = stackFile;
    stop = async () => {
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
      await rm(stack.stateDir, { recursive: true, force: true });
    };
  }
  process.stdout.write(`[test] running ${files.length} test files\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files.map((f) => relative(REPO_ROOT, f))], {
    cwd: REPO_ROOT,
    env,
    stdio: 'inherit',
  });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => child.once('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
  await stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[test] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
