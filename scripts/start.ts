import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_METERED, DEMO_PRICE, REPO_ROOT, demoModels } from '../local-stack/demo-models';
import { launchLocalStack } from '../local-stack/launch';
import { STACK_FILE, type LocalStackFile } from '../local-stack/stack-file';
import { freePort } from '../chain/anvil';

const HELP = `npm start: the whole Proofgate stack on this machine

Applies the D1 migrations, starts a local chain (anvil) with the pgUSD token and the x402
facilitator, the gateway Worker in workerd (wrangler dev, with Durable Objects and local D1/R2),
publishes the demo models (silero-vad priced, ppocr-det free), starts backend processes on the CPU
execution provider and three BLS policy operators (stakes 50/30/20), publishes the demo
intent policy and deploys the AttestationValidator. Writes ${STACK_FILE}; Ctrl-C stops
everything.

Options (npm start -- [options]):
  --port N        gateway port (default 8787, or a free one if 8787 is taken)
  --backends N    number of backend processes (default 3: one per operator, so quorum calls can ask
                  k=2 or k=3 distinct operators)
  --state DIR     state folder (default .proofgate/state; delete it to start from scratch)
  --stack-file F  where to write the stack file (default ${STACK_FILE})
  -h, --help      this help
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8787' },
      backends: { type: 'string', default: '3' },
      state: { type: 'string', default: join(REPO_ROOT, '.proofgate', 'state') },
      'stack-file': { type: 'string', default: join(REPO_ROOT, STACK_FILE) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const log = (line: string): void => {
    process.stdout.write(`[proofgate] ${line}\n`);
  };
  let port = Number(values.port);
  if (
    !(await freePort(port).then(
      () => true,
      () => false,
    ))
  ) {
    log(`port ${port} is taken; using a free port instead`);
    port = 0;
  }
  const stack = await launchLocalStack({
    stateDir: values.state!,
    gatewayPort: port,
    backends: Number(values.backends),
    models: demoModels(true),
    operatorStakes: [50n, 30n, 20n],
    log,
  });
  const stackFile = values['stack-file']!;
  const file: LocalStackFile = {
    gateway: stack.gateway,
    adminToken: stack.adminToken,
    operatorToken: stack.operatorToken,
    backends: stack.backends,
    models: stack.models,
    ...(stack.chain ? { chain: stack.chain } : {}),
    ...(stack.operators ? { operators: stack.operators, demoPolicyId: stack.demoPolicyId } : {}),
  };
  await mkdir(dirname(stackFile), { recursive: true });
  await writeFile(stackFile, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  const request = join(values.state!, 'demo-request.json');
  await writeFile(request, JSON.stringify(ocrRequest()));
  const intent = join(values.state!, 'demo-intent.json');
  await writeFile(intent, JSON.stringify(demoIntent(stack.demoPolicyId ?? '', stack.chain?.chainId ?? 31337)));

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    log('stopping…');
    stack
      .stop()
      .then(() => rm(stackFile, { force: true }))
      .then(() => {
        log('stopped');
        process.exit(0);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  process.stdout.write(`
Proofgate is up.
  gateway     ${stack.gateway}   (logs: ${stack.logsDir})
  backends    ${stack.backends.map((b) => `${b.url} (${b.address})`).join('\n              ')}
  models      ${stack.models.map((m) => `${m.name} v${m.version}`).join(', ')}
  stack file  ${relative(process.cwd(), stackFile)} (admin and operator tokens inside; keep it private)

A verified inference call (PaddleOCR text detection on a 32x32 image, free):
  curl -s -X POST ${stack.gateway}/v1/models/ppocr-det/infer -H 'content-type: application/json' --data @${request}

A paid call (x402: silero-vad costs ${DEMO_PRICE} pgUSD units; the dev payer signs, the local facilitator settles on chain):
  npm run pay -- silero-vad
A metered call (x402 upto: ppocr-det-metered costs ${DEMO_METERED.base} + ${DEMO_METERED.ratePerMs} per ms of run time, at most ${DEMO_METERED.cap}; charged what the receipt signs):
  npm run pay -- ppocr-det-metered --scheme upto --input ${request}
${
  stack.chain
    ? `
  chain       ${stack.chain.rpc} (chain id ${stack.chain.chainId}), pgUSD ${stack.chain.token}, facilitator ${stack.chain.facilitator}
  dev payer   key ${stack.chain.payerPrivateKey} (a public test key: never use it for real funds)
`
    : ''
}
${
  stack.operators
    ? `An intent checked by ${stack.operators.length} operators (stakes ${stack.operators.map((o) => o.stake).join('/')}), answered with a BLS quorum attestation:
  curl -s -X POST ${stack.gateway}/v1/intents -H 'content-type: application/json' --data @${intent}
The OCR call above, run by ${Math.min(3, stack.operators.length)} operators' backends and its output attested by their stake quorum (one BLS signature):
  curl -s -X POST '${stack.gateway}/v1/models/ppocr-det/infer?mode=quorum&k=${Math.min(3, stack.operators.length)}' -H 'content-type: application/json' --data @${request}
${
  stack.chain?.attestationValidator
    ? `  (AttestationValidator on chain: ${stack.chain.attestationValidator})
`
    : ''
}
`
    : ''
}List models:     curl -s ${stack.gateway}/v1/models
Fetch a receipt: curl -s ${stack.gateway}/v1/receipts/<requestId>
Press Ctrl-C to stop everything.
`);
}

// A plain transfer of 0.5 ETH to an address the demo policy does not block.
function demoIntent(policyId: string, chainId: number): unknown {
  return {
    intent: {
      from: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      to: '0x90F79bf6EB2c4f870365E785982E1f101E93b906',
      value: '500000000000000000',
      data: '0x',
      chainId,
    },
    policyId,
  };
}

// PaddleOCR detection on a 32x32 RGB image with a bright square in the middle (normalized values).
function ocrRequest(): unknown {
  const data: number[] = [];
  for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) data.push(x > 8 && x < 24 && y > 12 && y < 20 ? 1 : -1);
  return { inputs: { x: { type: 'float32', dims: [1, 3, 32, 32], data } } };
}

main().catch((err: unknown) => {
  process.stderr.write(`[proofgate] failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
