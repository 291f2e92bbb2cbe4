import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Hex } from 'viem';
import { UsageError, client, gatewayOptions, globals, stackFile } from '../cli-config';
import { fields, json, table } from '../print';

const repo = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/**
 * Runs a node program (the backend or the signer node) in the foreground with the gateway and the
 * operator token filled in; Ctrl-C and SIGTERM reach it (a backend drains on them), and its exit code is ours.
 */
function runNode(script: string, args: string[], cmd: Command, pidFile?: string): Promise<void> {
  const g = gatewayOptions(globals(cmd));
  const env = { ...process.env, ...(g.operatorToken ? { PROOFGATE_OPERATOR_TOKEN: g.operatorToken } : {}) };
  const child = spawn(process.execPath, ['--import', 'tsx', repo(script), '--gateway', g.gateway, ...args], { stdio: 'inherit', env });
  if (pidFile) writeFileSync(pidFile, `${child.pid}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      process.exitCode = code ?? (signal ? 1 : 0);
      resolve();
    });
  });
}

/** `proofgate backend start|drain`. */
export function backendCommand(program: Command): void {
  const backend = program.command('backend').description("an operator's inference backend (gpu-backend)");

  backend
    .command('start')
    .description('run an inference backend attached to the gateway (options after -- go to the backend: see `npm run backend -- --help`)')
    .option('--pid-file <file>', 'write the backend process id here (for `backend drain`)')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      '\nExample:\n  proofgate backend start --pid-file backend.pid -- --key-file backend.key --port 9000 --public-url https://gpu1.example.com\n',
    )
    .action((opts: { pidFile?: string }, cmd: Command) => runNode('gpu-backend/main.ts', cmd.args, cmd, opts.pidFile));

  backend
    .command('drain')
    .description('drain a backend on this machine: it takes no new work, finishes what it has, leaves the pool and exits')
    .option('--pid <pid>', 'the backend process')
    .option('--pid-file <file>', 'file holding the backend process id (from `backend start --pid-file`)')
    .option('--timeout <seconds>', 'how long to wait for it to finish', '120')
    .addHelpText('after', '\nExample:\n  proofgate backend drain --pid-file backend.pid\n')
    .action(async (opts: { pid?: string; pidFile?: string; timeout: string }) => {
      const pid = Number(opts.pid ?? (opts.pidFile ? readFileSync(opts.pidFile, 'utf8').trim() : NaN));
      if (!Number.isSafeInteger(pid) || pid <= 0) throw new UsageError('give the backend with --pid or --pid-file');
      const cmdline = readCmdline(pid);
      if (cmdline === null) throw new UsageError(`no process ${pid} (is the backend running?)`);
      if (cmdline !== undefined && !cmdline.includes('gpu-backend')) throw new UsageError(`process ${pid} is not a Proofgate backend`);
      // The backend drains on SIGTERM (gpu-backend/main.ts): the signal is the drain command.
      process.kill(pid, 'SIGTERM');
      process.stderr.write(`draining backend ${pid}…\n`);
      const deadline = Date.now() + Number(opts.timeout) * 1000;
      while (readCmdline(pid) !== null) {
        if (Date.now() > deadline) throw new UsageError(`backend ${pid} is still draining after ${opts.timeout} s`);
        await new Promise((r) => setTimeout(r, 200));
      }
      json({ drained: true, pid });
    });
}

// A process's command line (Linux /proc), undefined where /proc is not available, null when the process is gone.
function readCmdline(pid: number): string | null | undefined {
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** `proofgate operator start|register|list|stake`. */
export function operatorCommand(program: Command): void {
  const operator = program.command('operator').description("an operator's signer node (BLS key; decides intents)");

  operator
    .command('start')
    .description('run a signer node attached to the gateway (options after -- go to the node: see `npm run signer -- --help`)')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      `
Example:
  proofgate operator start -- --key-file op1.bls.key --id operator-1 --port 9100 --chain-rpc https://rpc.example.com --registry 0x…

Against the local stack, --chain-rpc and --registry default to its chain and OperatorRegistry.
`,
    )
    .action((_opts: unknown, cmd: Command) => runNode('signer-node/main.ts', [...cmd.args, ...localRegistryArgs(cmd, cmd.args)], cmd));

  operator
    .command('register')
    .description("register a signer node's BLS key (with its proof of possession) and URL at the gateway, once, without running it")
    .requiredOption('--key-file <file>', 'the BLS secret key (created if missing)')
    .requiredOption('--url <url>', 'URL the gateway reaches the signer node at')
    .option('--id <id>', 'operator id (default: op-<hash of the key>)')
    .option('--address <address>', 'an Ethereum address to publish with the operator')
    .addHelpText('after', '\nExample:\n  proofgate operator register --key-file op1.bls.key --url https://signer1.example.com --id operator-1\n')
    .action(async (opts: { keyFile: string; url: string; id?: string; address?: string }, cmd: Command) => {
      const g = globals(cmd);
      const [{ bytesToHex, getAddress, isAddress }, { defaultOperatorId }, { registrationBody }, { loadOrCreateOperatorKey }] = await Promise.all([
        import('viem'),
        import('../../core/operator-protocol'),
        import('../../signer-node/gateway-registration'),
        import('../../signer-node/operator-key'),
      ]);
      if (opts.address && !isAddress(opts.address, { strict: false })) throw new UsageError('--address is not an address');
      const key = await loadOrCreateOperatorKey(opts.keyFile);
      const id = opts.id ?? defaultOperatorId(bytesToHex(key.publicKey));
      const body = registrationBody(
        { key, publicUrl: opts.url.replace(/\/+$/, ''), ...(opts.address ? { address: getAddress(opts.address) } : {}) },
        id,
        Math.floor(Date.now() / 1000),
      );
      const registered = await (await client(g)).registerOperator(body);
      if (g.json) return json({ ...registered, blsPublicKey: body['blsPublicKey'], proofOfPossession: body['proofOfPossession'] });
      fields([
        ['operator', `${registered.id} (${registered.created ? 'registered' : 'updated'} at the gateway)`],
        ['key', String(body['blsPublicKey'])],
        ['next', `tasks reach it once the OperatorRegistry on chain lists ${registered.id} with this key and a stake: proofgate operator stake`],
      ]);
    });

  operator
    .command('list')
    .description("the operators: the OperatorRegistry's members on chain with their stakes, and the signer nodes registered at the gateway")
    .addHelpText('after', '\nExample:\n  proofgate operator list\n')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const set = await (await client(g)).getOperators();
      if (g.json) return json(set);
      fields([['registry', set.registry ? `${set.registry.address} at block ${set.registry.blockNumber}` : '(none configured at the gateway)']]);
      table(
        ['ID', 'STAKE', 'SIGNER NODE', 'BLS KEY'],
        set.operators.map((o) => [o.id, o.stake, o.node ? (o.node.url ?? 'registered') : '(none)', `${o.blsPublicKey.slice(0, 18)}…`]),
      );
    });

  operator
    .command('stake <id> <stake>')
    .description(
      "set an operator's stake in the OperatorRegistry on chain, as the registry's owner (0 takes it out of later quorums); an operator not yet on chain joins with the key and proof of possession its signer node registered at the gateway",
    )
    .option(
      '--owner-key-file <file>',
      "the registry owner's private key (default: PROOFGATE_REGISTRY_OWNER_KEY; the local stack's dev owner for its own registry)",
    )
    .option('--chain-rpc <url>', "JSON-RPC of the registry's chain (default: the local stack chain)")
    .option('--registry <address>', 'the OperatorRegistry contract (default: the local stack one)')
    .addHelpText(
      'after',
      '\nExample:\n  proofgate operator stake operator-4 25 --owner-key-file registry-owner.key --chain-rpc https://rpc.example.com --registry 0x…\n',
    )
    .action(async (id: string, stake: string, opts: { ownerKeyFile?: string; chainRpc?: string; registry?: string }, cmd: Command) => {
      const g = globals(cmd);
      if (!/^(0|[1-9][0-9]*)$/.test(stake)) throw new UsageError('the stake is a non-negative integer');
      const local = stackFile(g)?.chain;
      const rpc = opts.chainRpc ?? local?.rpc;
      const registry = opts.registry ?? local?.operatorRegistry;
      if (!rpc || !registry) throw new UsageError('give --chain-rpc and --registry (no local stack registry to default to)');
      if (!/^0x[0-9a-fA-F]{40}$/.test(registry)) throw new UsageError('--registry is an address');
      const ownerKey = await registryOwnerKey(opts.ownerKeyFile, local?.operatorRegistry === registry && local.rpc === rpc);
      const [{ getAddress }, chain] = await Promise.all([import('viem'), import('../../chain/operator-registry')]);
      const { publicClient } = await (await import('../../chain/clients')).connect(rpc, ownerKey);
      const known = (await publicClient.readContract({
        address: getAddress(registry),
        abi: chain.operatorRegistryArtifact().abi,
        functionName: 'publicKeyOf',
        args: [chain.operatorIdToBytes32(id)],
      })) as string;
      let block: bigint;
      if (known !== '0x') block = await chain.setOperatorStake(rpc, ownerKey, getAddress(registry), id, BigInt(stake));
      else {
        // A new member: the key its node registered at the gateway. The contract checks its proof of possession.
        const listed = (await (await client(g)).listOperators()).find((o) => o.id === id);
        if (!listed?.node)
          throw new UsageError(`operator ${id} is neither in the registry nor registered at the gateway (proofgate operator register)`);
        block = await chain.registerOperatorsOnChain(rpc, ownerKey, getAddress(registry), [
          { id, blsPublicKey: listed.blsPublicKey, proofOfPossession: listed.node.proofOfPossession, stake: BigInt(stake) },
        ]);
      }
      const result = { id, stake, registry: getAddress(registry), block: Number(block), joined: known === '0x' };
      if (g.json) return json(result);
      fields([
        ['operator', `${id}${result.joined ? ' (joined the registry)' : ''}`],
        ['stake', `${stake} from block ${result.block} on (earlier tasks keep their snapshot)`],
        ['registry', result.registry],
      ]);
    });
}

// --chain-rpc and --registry of the local stack, for a signer node started without them.
function localRegistryArgs(cmd: Command, args: string[]): string[] {
  const chain = stackFile(globals(cmd))?.chain;
  if (!chain?.operatorRegistry) return [];
  return [
    ...(args.includes('--chain-rpc') ? [] : ['--chain-rpc', chain.rpc]),
    ...(args.includes('--registry') ? [] : ['--registry', chain.operatorRegistry]),
  ];
}

// The registry owner's key: a file, the environment, or, for the local stack's own registry, the local
// chain's dev owner (anvil's first account, a published test key).
async function registryOwnerKey(file: string | undefined, localRegistry: boolean): Promise<Hex> {
  const key = (file ? readFileSync(file, 'utf8') : (process.env['PROOFGATE_REGISTRY_OWNER_KEY'] ?? '')).trim();
  if (key) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new UsageError("the registry owner's key must be 0x followed by 64 hex digits");
    return key as Hex;
  }
  if (!localRegistry) throw new UsageError("give the registry owner's key: --owner-key-file, or PROOFGATE_REGISTRY_OWNER_KEY");
  const { anvilDevAccounts } = await import('../../chain/anvil');
  return anvilDevAccounts(1)[0]!.privateKey;
}
