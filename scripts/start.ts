import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../local-stack/demo-models';
import { launchLocalStack } from '../local-stack/launch';
import { STACK_FILE, type LocalStackFile } from '../local-stack/stack-file';
import { isPortFree } from '../local-stack/wait-for';

const HELP = `npm start: the whole Proofgate stack on this machine

Starts the gateway Worker in workerd (wrangler dev, with Durable Objects and local D1/R2), applies the
D1 migrations, publishes the demo models, starts backend processes on the CPU execution provider and
registers them. Writes ${STACK_FILE}; Ctrl-C stops everything.

Options (npm start -- [options]):
  --port N        gateway port (default 8787, or a free one if 8787 is taken)
  --backends N    number of backend processes (default 2)
  --state DIR     state folder (default .proofgate/state; delete it to start from scratch)
  --stack-file F  where to write the stack file (default ${STACK_FILE})
  -h, --help      this help
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8787' }, backends: { type: 'string', default: '2' },
      state: { type: 'string', default: join(REPO_ROOT, '.proofgate', 'state') },
      'stack-file': { type: 'string', default: join(REPO_ROOT, STACK_FILE) }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const log = (line: string): void => { process.stdout.write(`[proofgate] ${line}\n`); };
  let port = Number(values.port);
  if (!(await isPortFree(port))) {
    log(`port ${port} is taken; using a free port instead`);
    port = 0;
  }
  const stack = await launchLocalStack({ stateDir: values.state!, gatewayPort: port, backends: Number(values.backends), log });
  const stackFile = values['stack-file']!;
  const file: LocalStackFile = {
    gateway: stack.gateway, adminToken: stack.adminToken, operatorToken: stack.operatorToken, backends: stack.backends, models: stack.models,
  };
  await mkdir(dirname(stackFile), { recursive: true });
  await writeFile(stackFile, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  const request = join(values.state!, 'demo-request.json');
  await writeFile(request, JSON.stringify(sileroRequest()));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    stack.stop().then(() => rm(stackFile, { force: true })).then(() => { log('stopped'); process.exit(0); });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  process.stdout.write(`
Proofgate is up.
  gateway     ${stack.gateway}   (logs: ${stack.logsDir})
  backends    ${stack.backends.map((b) => `${b.url} (${b.address})`).join('\n              ')}
  models      ${stack.models.map((m) => `${m.name} v${m.version}`).join(', ')}
  stack file  ${relative(process.cwd(), stackFile)} (admin and operator tokens inside; keep it private)

A verified inference call (Silero VAD on 512 samples of silence):
  curl -s -X POST ${stack.gateway}/v1/models/silero-vad/infer -H 'content-type: application/json' --data @${request}

List models:     curl -s ${stack.gateway}/v1/models
Fetch a receipt: curl -s ${stack.gateway}/v1/receipts/<requestId>
Press Ctrl-C to stop everything.
`);
}

// Silero VAD v5 at 16 kHz: 512 samples, a zero LSTM state [2, 1, 128] and the sample rate.
function sileroRequest(): unknown {
  return {
    inputs: {
      input: { type: 'float32', dims: [1, 512], data: new Array(512).fill(0) },
      state: { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) },
      sr: { type: 'int64', dims: [], data: [16000] },
    },
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`[proofgate] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
