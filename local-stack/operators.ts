import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { deployAttestationValidator, registerOperatorsOnChain } from '../chain/attestation-validator';
import { buildPolicyData } from '../policies/policy-data/build';
import { REPO_ROOT } from './demo-models';
import type { ProcessGroup, StartedProcess } from './process-group';
import { freePort } from '../chain/anvil';
import { waitForHttp } from './wait-for';

/** How to bring up the local operator nodes. */
export interface LaunchOperatorsOptions {
  gateway: string;
  adminToken: string;
  operatorToken: string;
  /** BLS keys persist under `<stateDir>/keys/operator-<n>.bls.key`. */
  stateDir: string;
  logsDir: string;
  group: ProcessGroup;
  /** One operator per entry, with that stake (e.g. [50n, 30n, 20n]). */
  stakes: bigint[];
  log?: (line: string) => void;
}

/** A running operator node, as the stack file records it. */
export interface LaunchedOperator {
  id: string;
  url: string;
  blsPublicKey: Hex;
  stake: string;
  pid: number;
}

/**
 * Starts one operator process per stake (ids `operator-1`…), waits until each has registered its
 * BLS key (with its proof of possession) at the gateway, then sets its stake through the admin API.
 */
export async function launchOperators(opts: LaunchOperatorsOptions): Promise<LaunchedOperator[]> {
  await mkdir(join(opts.stateDir, 'keys'), { recursive: true, mode: 0o700 });
  const launched: LaunchedOperator[] = [];
  for (const [i, stake] of opts.stakes.entries()) {
    const id = `operator-${i + 1}`;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const logFile = join(opts.logsDir, `${id}.log`);
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
        join(opts.stateDir, 'keys', `${id}.bls.key`),
        '--id',
        id,
        '--port',
        String(port),
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
    const res = await fetch(`${opts.gateway}/v1/operators/${id}/stake`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stake: stake.toString() }),
    });
    if (!res.ok) throw new Error(`setting the stake of ${id} failed: HTTP ${res.status} ${await res.text()}`);
    opts.log?.(`${id} registered (BLS ${blsPublicKey!.slice(0, 18)}…, stake ${stake}), serving at ${url}`);
    launched.push({ id, url, blsPublicKey: blsPublicKey!, stake: stake.toString(), pid: proc.child.pid! });
  }
  return launched;
}

/** The demo authorization policy (policies/authorization.rego), fed by the PolicyData module `risk`. */
export const DEMO_AUTHORIZATION_POLICY = readFileSync(join(REPO_ROOT, 'policies', 'authorization.rego'), 'utf8');

/**
 * Builds and uploads the demo PolicyData module and publishes the demo authorization policy
 * (idempotent: the same content keeps its ids). Returns the policy id and the module's sha256.
 */
export async function publishDemoAuthorizationPolicy(gateway: string, adminToken: string): Promise<{ policyId: Hex; policyDataSha256: Hex }> {
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
      modules: { 'authz.rego': DEMO_AUTHORIZATION_POLICY },
      entrypoint: 'data.proofgate.authz',
      params: { maxCalldataBytes: 68 },
      policyData: [{ name: 'risk', sha256 }],
    }),
  });
  if (!policy.ok) throw new Error(`publishing the demo authorization policy failed: HTTP ${policy.status} ${await policy.text()}`);
  return { policyId: ((await policy.json()) as { id: Hex }).id, policyDataSha256: sha256 };
}

/**
 * Deploys the AttestationValidator on a local chain and registers every active operator of the
 * gateway on it (keys with their proofs of possession, which the contract checks, and stakes),
 * so attestations the gateway issues verify on chain. Returns the contract address.
 */
export async function deployValidatorForOperators(opts: { gateway: string; rpcUrl: string; ownerKey: Hex; thresholdBps?: number }): Promise<Address> {
  const res = await fetch(`${opts.gateway}/v1/operators`);
  if (!res.ok) throw new Error(`listing operators failed: HTTP ${res.status}`);
  const { operators } = (await res.json()) as {
    operators: { id: string; blsPublicKey: Hex; proofOfPossession: Hex; stake: string; status: string }[];
  };
  const validator = await deployAttestationValidator(opts.rpcUrl, opts.ownerKey, opts.thresholdBps ?? 6667);
  await registerOperatorsOnChain(
    opts.rpcUrl,
    opts.ownerKey,
    validator,
    operators
      .filter((o) => o.status === 'active')
      .map((o) => ({ id: o.id, blsPublicKey: o.blsPublicKey, proofOfPossession: o.proofOfPossession, stake: BigInt(o.stake) })),
  );
  return validator;
}
