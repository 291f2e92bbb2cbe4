import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { startBackendNode } from './backend-node';
import { loadBackendOperator, type BackendOperator } from './operator-attachment';
import { DEFAULT_SCHEDULER } from './run-scheduler';
import { isBytes32 } from '../core/hex';

const HELP = `proofgate-backend: an operator's inference node for a Proofgate gateway

Usage: npm run backend -- --gateway URL [options]

Options:
  --gateway URL        gateway base URL (required), e.g. https://gateway.example.com
  --key-file FILE      file holding the backend's secp256k1 private key (0x-hex); or set PROOFGATE_BACKEND_KEY
  --operator-token T   the gateway's operator token; or set PROOFGATE_OPERATOR_TOKEN
  --host HOST          interface to listen on (default 127.0.0.1)
  --port N             port to listen on (default 0: any free port)
  --public-url URL     URL the gateway reaches this node at (default http://HOST:PORT)
  --cache-dir DIR      where model bytes are cached (default .proofgate/model-cache)
  --models LIST        "*" (default: any hub model) or comma-separated 0x sha256s
  --provider P         auto (default: CUDA if usable, else CPU), cuda or cpu

Quorum mode (the backend belongs to a registered operator, so quorum calls count it as that operator):
  --operator-id ID        the operator's id in the OperatorRegistry on chain
  --operator-key-file F   the operator's BLS secret key (the signer node's key file): it signs this
                          backend's attachment at registration and the inference digests of quorums

onnxruntime (backends that share a machine should split its cores between them):
  --intra-op-threads N threads one run may use inside an operator (default 0: onnxruntime's
                       choice, one per physical core); on a machine shared by K backends use
                       cores / K
  --inter-op-threads N threads running independent operators in parallel (default 0: operators
                       run one after another, which suits most models)
  --spin-wait on|off   let idle onnxruntime threads spin for new work (default off: spinning
                       lowers latency a little but burns CPU that other processes need)

Queue and dynamic batching:
  --max-queue N        calls that may wait (default 64); more are refused with 503 + Retry-After,
                       and the gateway tries another backend
  --max-batch N        calls stacked into one run of a model whose inputs and outputs all have a
                       symbolic first dimension (default 8; 1 turns batching off)
  --batch-delay-us N   how long the first call of a batch waits for others (default 500 µs)

SIGTERM or SIGINT drains the backend: it takes no new work (the gateway stops routing to it), finishes
every queued and running call, leaves the gateway's pool and exits; a second signal exits at once.
  -h, --help           this help
`;

function main(): void {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string' },
      'key-file': { type: 'string' },
      'operator-token': { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'public-url': { type: 'string' },
      'cache-dir': { type: 'string', default: '.proofgate/model-cache' },
      models: { type: 'string', default: '*' },
      provider: { type: 'string', default: 'auto' },
      'operator-id': { type: 'string' },
      'operator-key-file': { type: 'string' },
      'intra-op-threads': { type: 'string', default: '0' },
      'inter-op-threads': { type: 'string', default: '0' },
      'spin-wait': { type: 'string', default: 'off' },
      'max-queue': { type: 'string', default: String(DEFAULT_SCHEDULER.maxQueue) },
      'max-batch': { type: 'string', default: String(DEFAULT_SCHEDULER.maxBatch) },
      'batch-delay-us': { type: 'string', default: String(DEFAULT_SCHEDULER.maxQueueDelayUs) },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const fail = (message: string): never => {
    process.stderr.write(`proofgate-backend: ${message}\n(see --help)\n`);
    process.exit(2);
  };
  const gatewayUrl = values.gateway?.replace(/\/+$/, '') ?? fail('--gateway is required');
  const rawKey = (values['key-file'] ? readFileSync(values['key-file'], 'utf8') : (process.env['PROOFGATE_BACKEND_KEY'] ?? '')).trim();
  if (!isBytes32(rawKey)) fail('a 0x-hex private key is required (--key-file or PROOFGATE_BACKEND_KEY)');
  const operatorToken = values['operator-token'] ?? process.env['PROOFGATE_OPERATOR_TOKEN'] ?? fail('an operator token is required');
  const provider = values.provider as 'auto' | 'cuda' | 'cpu';
  if (!['auto', 'cuda', 'cpu'].includes(provider)) fail('--provider must be auto, cuda or cpu');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be a port number');
  const count = (flag: string, min: number): number => {
    const n = Number(values[flag as keyof typeof values]);
    return Number.isSafeInteger(n) && n >= min ? n : fail(`--${flag} must be an integer ≥ ${min}`);
  };
  if (values['spin-wait'] !== 'on' && values['spin-wait'] !== 'off') fail('--spin-wait must be on or off');
  const log = (line: string): void => {
    process.stdout.write(`[backend] ${line}\n`);
  };

  if ((values['operator-id'] === undefined) !== (values['operator-key-file'] === undefined)) {
    fail('--operator-id and --operator-key-file go together');
  }
  let operator: BackendOperator | undefined;
  try {
    if (values['operator-id']) operator = loadBackendOperator(values['operator-key-file']!, values['operator-id']);
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }

  startBackendNode({
    gatewayUrl,
    operatorToken,
    account: privateKeyToAccount(rawKey as Hex),
    privateKey: rawKey as Hex,
    host: values.host!,
    port,
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
    cacheDir: values['cache-dir']!,
    models: values.models!,
    provider,
    runtime: {
      intraOpThreads: count('intra-op-threads', 0),
      interOpThreads: count('inter-op-threads', 0),
      spinWait: values['spin-wait'] === 'on',
    },
    scheduler: { maxQueue: count('max-queue', 0), maxBatch: count('max-batch', 1), maxQueueDelayUs: count('batch-delay-us', 0) },
    log,
    ...(operator ? { operator } : {}),
  })
    .then((node) => {
      let draining = false;
      const shutdown = (signal: string): void => {
        if (draining) {
          log(`${signal} again: exiting without waiting`);
          process.exit(1);
        }
        draining = true;
        log(`${signal}: draining (no new work; finishing queued and running calls)`);
        node
          .drain()
          .then(() => log('drained; left the pool'))
          .then(() => node.stop())
          .finally(() => process.exit(0));
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    })
    .catch((err: unknown) => {
      process.stderr.write(`proofgate-backend: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}

main();
