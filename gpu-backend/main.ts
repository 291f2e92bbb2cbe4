import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { startBackendNode } from './backend-node';
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
  --threads N          onnxruntime intra-op threads (default: onnxruntime's choice)
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
      threads: { type: 'string' },
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
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  const log = (line: string): void => {
    process.stdout.write(`[backend] ${line}\n`);
  };

  startBackendNode({
    gatewayUrl,
    operatorToken,
    account: privateKeyToAccount(rawKey as Hex),
    host: values.host!,
    port,
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
    cacheDir: values['cache-dir']!,
    models: values.models!,
    provider,
    ...(threads ? { threads } : {}),
    log,
  })
    .then((node) => {
      const shutdown = (): void => {
        log('stopping');
        node.stop().finally(() => process.exit(0));
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    })
    .catch((err: unknown) => {
      process.stderr.write(`proofgate-backend: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}

main();
