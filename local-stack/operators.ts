import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { deployAttestationValidator } from '../chain/attestation-validator';
import { connect } from '../chain/clients';
import {
  deployOperatorRegistry,
  operatorIdToBytes32,
  operatorRegistryArtifact,
  registerOperatorsOnChain,
  setOperatorStake,
} from '../chain/operator-registry';
import { buildPolicyData } from '../policies/policy-data/build';
import { REPO_ROOT } from './demo-models';
import type { ProcessGroup, StartedProcess } from './process-group';
import { freePort } from '../chain/anvil';
import { waitForHttp } from './wait-for';

/** The OperatorRegistry a stack's operators are registered in, and the key that administers it. */
export interface OperatorChain {
  rpcUrl: string;
  registry: Address;
  /** The registry owner's key (a dev key on the local chain). */
  ownerKey: Hex;
}

/** A freshly deployed registry and the gateway settings (`workerVars`) that name it. */
export type DeployedOperatorChain = OperatorChain & { workerVars: Record<string, string> };

/** Deploys an empty OperatorRegistry on a local chain. */
export async function deployOperatorChain(rpcUrl: string, ownerKey: Hex): Promise<DeployedOperatorChain> {
  const registry = await deployOperatorRegistry(rpcUrl, ownerKey);
  return { rpcUrl, registry, ownerKey, workerVars: { OPERATOR_REGISTRY_ADDRESS: registry, OPERATOR_REGISTRY_RPC_URL: rpcUrl } };
}

/** How to bring up the local operator nodes. */
export interface LaunchOperatorsOptions {
  gateway: string;
  operatorToken: string;
  /** The registry the operators are registered in (on chain) and their nodes read snapshots from. */
  chain: OperatorChain;
  /** BLS keys persist under `<stateDir>/keys/operator-<n>.bls.key`. */
  stateDir: string;
  logsDir: string;
  group: ProcessGroup;
  /** One operator per entry, with that stake (e.g. [50n, 30n, 20n]). */
  stakes: bigint[];
  /** Where nodes fetch policies by id (default: the gateway). */
  policySourceUrl?: string;
  /** Hosts the nodes' PolicyData may fetch from (`host:port` or `hostname`; default none). */
  policyDataHosts?: string[];
  log?: (line: string) => void;
}

/** A running operator node, as the stack file records it. */
export interface LaunchedOperator {
  id: string;
  url: string;
  blsPublicKey: Hex;
  stake: string;
  pid: number;
  /** Where its BLS secret key is kept. */
  keyFile: string;
}

/**
 * Starts one signer node per stake (ids `operator-1`…), waits until each has registered its BLS key
 * (with its proof of possession) at the gateway, then registers it in the OperatorRegistry on chain
 * with its stake (the contract checks the proof of possession again), or sets its stake there if a
 * previous run registered it already.
 */
export async function launchOperators(opts: LaunchOperatorsOptions): Promise<LaunchedOperator[]> {
  await mkdir(join(opts.stateDir, 'keys'), { recursive: true, mode: 0o700 });
  const launched: LaunchedOperator[] = [];
  for (const [i, stake] of opts.stakes.entries()) {
    const id = `operator-${i + 1}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFile = join(opts.logsDir, `${id}.log`);
    const keyFile = join(opts.stateDir, 'keys', `${id}.bls.key`);
    const proc: StartedProcess = opts.group.spawn(
      id,
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'signer-node', 'main.ts'),
        '--gateway',
        opts.gateway,
        '--key-file',
        keyFile,
        '--id',
        id,
        '--port',
        String(port),
        '--chain-rpc',
        opts.chain.rpcUrl,
        '--registry',
        opts.chain.registry,
        ...(opts.policySourceUrl ? ['--policy-source', opts.policySourceUrl] : []),
        ...(opts.policyDataHosts?.length ? ['--policy-data-hosts', opts.policyDataHosts.join(',')] : []),
      ],
      { env: { ...process.env, PROOFGATE_OPERATOR_TOKEN: opts.operatorToken }, logFile, cwd: REPO_ROOT },
    );
    let blsPublicKey: Hex | undefined;
    await waitForHttp(
      `${url}/healthz`,
      async (r) => {
        const health = (await r.json()) as { registered: boolean; blsPublicKey: Hex };
        blsPublicKey = health.blsPublicKey;
        return r.ok && health.registered;
      },
      { timeoutMs: 120_000, process: proc, what: `${id} (log: ${logFile})` },
    );
    await stakeOnChain(opts.chain, opts.gateway, id, stake);
    opts.log?.(`${id} registered (BLS ${blsPublicKey!.slice(0, 18)}…, stake ${stake} in the OperatorRegistry), serving at ${url}`);
    launched.push({ id, url, blsPublicKey: blsPublicKey!, stake: stake.toString(), pid: proc.child.pid!, keyFile });
  }
  return launched;
}

// Registers the operator's node key (its proof of possession as the gateway lists it) in the
// registry, or sets its stake when this registry has it already.
async function stakeOnChain(chain: OperatorChain, gateway: string, id: string, stake: bigint): Promise<void> {
  const { publicClient } = await connect(chain.rpcUrl, chain.ownerKey);
  const known = (await publicClient.readContract({
    address: chain.registry,
    abi: operatorRegistryArtifact().abi,
    functionName: 'publicKeyOf',
    args: [operatorIdToBytes32(id)],
  })) as Hex;
  if (known !== '0x') {
    await setOperatorStake(chain.rpcUrl, chain.ownerKey, chain.registry, id, stake);
    return;
  }
  const res = await fetch(`${gateway}/v1/operators`);
  if (!res.ok) throw new Error(`listing operators failed: HTTP ${res.status}`);
  const { operators } = (await res.json()) as { operators: { id: string; blsPublicKey: Hex; node: { proofOfPossession: Hex } | null }[] };
  const node = operators.find((o) => o.id === id)?.node;
  const blsPublicKey = operators.find((o) => o.id === id)?.blsPublicKey;
  if (!node || !blsPublicKey) throw new Error(`operator ${id} is not registered at the gateway`);
  await registerOperatorsOnChain(chain.rpcUrl, chain.ownerKey, chain.registry, [
    { id, blsPublicKey, proofOfPossession: node.proofOfPossession, stake },
  ]);
}

/** The demo intent policy (policies/intent-policy.rego), fed by the PolicyData module `risk`. */
export const DEMO_INTENT_POLICY = readFileSync(join(REPO_ROOT, 'policies', 'intent-policy.rego'), 'utf8');

/** The demo policy's quorum: 67 % of stake (the gateway's default). */
export const DEMO_THRESHOLD_BPS = 6700;

/**
 * Builds and uploads the demo PolicyData module and publishes the demo intent policy
 * (idempotent: the same content keeps its ids). Returns the policy id, its quorum and the module's sha256.
 */
export async function publishDemoIntentPolicy(
  gateway: string,
  adminToken: string,
): Promise<{ policyId: Hex; thresholdBps: number; policyDataSha256: Hex }> {
  const wasm = await buildPolicyData('intent-risk');
  const upload = await fetch(`${gateway}/v1/policy-data`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/wasm' },
    body: wasm.bytes,
  });
  if (!upload.ok) throw new Error(`uploading the demo PolicyData module failed: HTTP ${upload.status} ${await upload.text()}`);
  const { sha256 } = (await upload.json()) as { sha256: Hex };
  const policy = await fetch(`${gateway}/v1/policies`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      modules: { 'intent.rego': DEMO_INTENT_POLICY },
      entrypoint: 'data.proofgate.intent',
      params: { maxCalldataBytes: 68 },
      policyData: [{ name: 'risk', sha256 }],
      thresholdBps: DEMO_THRESHOLD_BPS,
    }),
  });
  if (!policy.ok) throw new Error(`publishing the demo intent policy failed: HTTP ${policy.status} ${await policy.text()}`);
  return { policyId: ((await policy.json()) as { id: Hex }).id, thresholdBps: DEMO_THRESHOLD_BPS, policyDataSha256: sha256 };
}

/**
 * Deploys the AttestationValidator on the registry's chain, reading that OperatorRegistry (so it
 * judges each attestation by the snapshot it names), with a floor of `minThresholdBps` (default
 * one half) under any policy's quorum. Returns the contract address.
 */
export async function deployValidatorForOperators(chain: OperatorChain, minThresholdBps = 5000): Promise<Address> {
  return deployAttestationValidator(chain.rpcUrl, chain.ownerKey, chain.registry, minThresholdBps);
}
