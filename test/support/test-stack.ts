import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { demoModels } from '../../local-stack/demo-models';
import { launchLocalStack, type LaunchOptions, type LocalStack } from '../../local-stack/launch';
import { readStackFile, type LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';

/** Price of the test stack's paid models, in pgUSD units. */
export const PAID_PRICE = '2500';

/** Env var through which `npm test` hands the shared stack's file to every test process. */
export const SHARED_STACK_ENV = 'PROOFGATE_TEST_STACK';

/**
 * Launches a stack in a fresh temporary folder with the demo models and the tiny test models
 * published. Used by `npm test` for the shared stack and by tests that need one of their own.
 */
export async function launchTestStack(opts: Partial<LaunchOptions> = {}): Promise<LocalStack> {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'proofgate-test-')));
  const models = [...demoModels()];
  for (const m of testModels()) {
    const file = join(stateDir, `${m.name}.onnx`);
    await writeFile(file, m.bytes);
    models.push({ name: m.name, file, price: '0' });
    // Priced twins of tiny-add for the payment tests, settled before and after the answer.
    if (m.name === 'tiny-add') {
      models.push(
        { name: 'paid-add', file, price: PAID_PRICE, settlement: 'sync' },
        { name: 'paid-add-async', file, price: PAID_PRICE, settlement: 'async' },
      );
    }
  }
  return launchLocalStack({ backends: 2, gatewayPort: 0, models, ...opts, stateDir });
}

/** The stack this test process launched for itself (a file run on its own), if it did. */
let ownStack: Promise<LocalStack> | undefined;

// Registered when a test file imports this module, i.e. at its top level: an after() registered
// inside the before() hook that calls sharedStack() would belong to that hook and stop the stack as
// soon as the hook ended. Only under the test runner (NODE_TEST_CONTEXT is set in its file processes),
// so that scripts and benchmarks importing this module do not start a test harness.
if (process.env['NODE_TEST_CONTEXT']) {
  after(async () => {
    if (ownStack) await (await ownStack).stop();
  });
}

/**
 * The stack a test file runs against: the shared one `npm test` started, or, when the file is run on
 * its own, one stack launched for this test process (once, however often this is called) and stopped
 * after its tests.
 */
export async function sharedStack(): Promise<LocalStackFile> {
  const file = process.env[SHARED_STACK_ENV];
  if (file) return readStackFile(file);
  ownStack ??= launchTestStack();
  return ownStack;
}
