import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { getAddress, isAddress, type Address } from 'viem';
import { loadOrCreateOperatorKey } from './operator-key';
import { startSignerNode } from './signer-node';

const HELP = `proofgate-signer: an operator's signer node for a Proofgate gateway (verifiable authorization)

It holds the operator's BLS12-381 key, registers it at the gateway with a proof of possession,
fetches each task's policy by id (checking that its content hashes to the id), runs its PolicyData
modules (phase 1) and signs their outputs, recomputes the PolicyData consensus from every
operator's signed outputs, evaluates the Rego policy on it and BLS-signs the verdict (phase 2).
Membership and stake come from the OperatorRegistry contract on chain (the registry's owner
registers the operator's key there with its proof of possession and sets its stake).

Usage: npm run signer -- --gateway URL --key-file FILE --chain-rpc URL --registry ADDR [options]

Example:
  PROOFGATE_OPERATOR_TOKEN=… npm run signer -- --gateway http://127.0.0.1:8787 --key-file op1.bls.key --id operator-1 \
      --chain-rpc http://127.0.0.1:8545 --registry 0x…

Options:
  --gateway URL           gateway base URL (required)
  --key-file FILE         the BLS secret key (0x-hex, 32 bytes); created with a fresh key if missing (required)
  --operator-token T      the gateway's operator token; or set PROOFGATE_OPERATOR_TOKEN
  --id ID                 operator id (default: op-<hash of the BLS public key>)
  --address ADDR          an Ethereum address to publish with the operator (optional)
  --host HOST             interface to listen on (default 127.0.0.1)
  --port N                port to listen on (default 0: any free port)
  --public-url URL        URL the gateway reaches this node at (default http://HOST:PORT)
  --chain-rpc URL         JSON-RPC URL of the chain holding the OperatorRegistry (required)
  --registry ADDR         the OperatorRegistry contract (required)
  --policy-source URL     where policies are fetched by id (default: the gateway; content is hash-checked)
  --policy-data-hosts L   comma-separated hosts PolicyData modules may fetch from (default: none)
  --cache-dir DIR         where PolicyData binaries and transpiled components are kept
                          (default: policy-data-cache beside the key file)
  -h, --help              this help
`;

function main(): void {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string' },
      'key-file': { type: 'string' },
      'operator-token': { type: 'string' },
      id: { type: 'string' },
      address: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      'public-url': { type: 'string' },
      'policy-data-hosts': { type: 'string', default: '' },
      'cache-dir': { type: 'string' },
      'chain-rpc': { type: 'string' },
      registry: { type: 'string' },
      'policy-source': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const fail = (message: string): never => {
    process.stderr.write(`proofgate-signer: ${message}\n(see --help)\n`);
    process.exit(2);
  };
  const gatewayUrl = values.gateway?.replace(/\/+$/, '') ?? fail('--gateway is required');
  const keyFile = values['key-file'] ?? fail('--key-file is required');
  const operatorToken = values['operator-token'] ?? process.env['PROOFGATE_OPERATOR_TOKEN'] ?? fail('an operator token is required');
  const chainRpcUrl = values['chain-rpc'] ?? fail('--chain-rpc is required');
  const registryArg = values.registry ?? fail('--registry is required');
  const registry = isAddress(registryArg, { strict: false }) ? getAddress(registryArg) : fail('--registry is not an address');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be a port number');
  let address: Address | undefined;
  if (values.address !== undefined)
    address = isAddress(values.address, { strict: false }) ? getAddress(values.address) : fail('--address is not an address');
  const log = (line: string): void => {
    process.stdout.write(`[signer] ${line}\n`);
  };

  loadOrCreateOperatorKey(keyFile)
    .then((key) =>
      startSignerNode({
        gatewayUrl,
        operatorToken,
        key,
        host: values.host!,
        port,
        log,
        ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
        ...(values.id ? { id: values.id } : {}),
        ...(address ? { address } : {}),
        policyDataHosts: values['policy-data-hosts']!.split(',').filter(Boolean),
        policyDataCacheDir: values['cache-dir'] ?? join(dirname(keyFile), 'policy-data-cache'),
        chainRpcUrl,
        registry,
        ...(values['policy-source'] ? { policySourceUrl: values['policy-source'].replace(/\/+$/, '') } : {}),
      }),
    )
    .then((node) => {
      const shutdown = (): void => {
        log('stopping');
        node.stop().finally(() => process.exit(0));
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    })
    .catch((err: unknown) => {
      process.stderr.write(`proofgate-signer: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}

main();
