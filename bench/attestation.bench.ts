import { bytesToHex, hexToBytes, type Hex } from 'viem';
import {
  admitOperator,
  assembleAttestation,
  createProofOfPossession,
  emptyRegistry,
  generateKeyPair,
  requestDigest,
  signMessage,
  verifyAttestation,
  verifySignature,
  type AttestationRequest,
  type OperatorRegistry,
} from '../core/attestation';
import { startAnvil } from '../chain/anvil';
import { compilePolicy } from '../core/rego';
import { signTask } from '../signer-node/evaluate-task';
import type { IntentTask } from '../core/operator-protocol';
import { deployOperatorChain, launchOperators, publishDemoIntentPolicy } from '../local-stack/operators';
import { ProcessGroup } from '../local-stack/process-group';
import { launchTestStack } from '../test/support/test-stack';
import { percentile, timeRuns } from './stats';
import { POLICY } from '../test/unit/intents/task-fixtures';

// Attestation costs against their baselines, measured in the same run:
// - verifying a 100-signer attestation (verifyAttestation: 100 compressed G1 keys decompressed and
//   subgroup-checked, aggregated, one pairing check, digest recomputed) versus one plain BLS
//   signature verification, and versus verifying the 100 signatures one by one;
// - an operator's phase 2 (Rego evaluation + digest + BLS signature) versus a bare BLS signature.

const SIGNERS = 100;
const REGISTRY = '0x00000000000000000000000000000000000000e9';

function task(): IntentTask {
  return {
    taskId: `0x${'0a'.repeat(32)}`,
    policyId: `0x${'0b'.repeat(32)}`,
    policyClient: '0x00000000000000000000000000000000000000c1',
    chainId: 31337,
    intent: {
      from: '0x1111111111111111111111111111111111111111',
      to: '0x2222222222222222222222222222222222222222',
      value: '1000',
      data: '0x',
      chainId: 31337,
    },
    modules: { 'intent.rego': POLICY },
    entrypoint: 'data.proofgate.intent',
    params: { maxValue: 5000, blocked: ['0x000000000000000000000000000000000000dEaD'] },
    policyData: [],
    thresholdBps: 6700,
    registry: REGISTRY,
    registryBlock: 1,
    createdAt: 1_800_000_000,
    expiration: 1_800_003_600,
  };
}

const ms = (x: number): string => `${x.toFixed(2)} ms`.padStart(11);

/** Prints the attestation benchmarks: p50/p99 of min(`iterations`, 50) runs each, 3 for the one-by-one baseline. */
export async function benchAttestation(iterations: number): Promise<void> {
  const keys = Array.from({ length: SIGNERS }, (_, i) => generateKeyPair(new Uint8Array(32).fill(0).map((_, j) => (i * 31 + j + 1) & 0xff)));
  let registry: OperatorRegistry = emptyRegistry(REGISTRY, 1);
  keys.forEach((key, i) => {
    registry = admitOperator(registry, {
      id: `op-${i}`,
      blsPublicKey: bytesToHex(key.publicKey),
      proofOfPossession: bytesToHex(createProofOfPossession(key.secretKey)),
      stake: 1n,
    });
  });
  const t = task();
  const request: AttestationRequest = {
    taskId: t.taskId,
    policyId: t.policyId,
    policyClient: t.policyClient,
    chainId: t.chainId,
    intent: t.intent,
    allowed: true,
    reasons: [],
    policyDataHash: `0x${'00'.repeat(32)}`,
    expiration: t.expiration,
    thresholdBps: t.thresholdBps,
    registry: t.registry,
    registryBlock: t.registryBlock,
  };
  const digest = requestDigest(request);
  const message = hexToBytes(digest);
  const signatures = keys.map((key) => signMessage(key.secretKey, message));
  const attestation = assembleAttestation(
    request,
    signatures.map((s, i) => ({ operatorId: `op-${i}`, signature: bytesToHex(s) as Hex })),
    registry,
  );
  const options = { now: BigInt(t.createdAt), policyThresholdBps: t.thresholdBps };
  if (!verifyAttestation(attestation, registry, options).valid) throw new Error('benchmark attestation does not verify');

  // Pairings cost tens of ms in JavaScript: the runs are capped so `npm run bench` stays around a minute.
  const runs = Math.min(iterations, 50);
  const aggregate = await timeRuns(async () => verifyAttestation(attestation, registry, options), runs, 3);
  const single = await timeRuns(async () => verifySignature(keys[0]!.publicKey, message, signatures[0]!), runs, 3);
  const oneByOne = await timeRuns(async () => signatures.every((s, i) => verifySignature(keys[i]!.publicKey, message, s)), 3, 1);

  const policy = compilePolicy(t.modules);
  const phase2 = await timeRuns(async () => signTask(keys[0]!.secretKey, policy, t, {}), runs, 5);
  const bareSign = await timeRuns(async () => signMessage(keys[0]!.secretKey, message), runs, 5);

  process.stdout.write(`\nattestations (${SIGNERS} signers, BLS12-381 with @noble/curves, ${runs} runs; one-by-one ${oneByOne.length} runs)\n`);
  process.stdout.write(`${'what'.padEnd(52)} ${'p50'.padStart(11)} ${'p99'.padStart(11)}\n`);
  const row = (label: string, samples: number[]): void => {
    process.stdout.write(`${label.padEnd(52)} ${ms(percentile(samples, 50))} ${ms(percentile(samples, 99))}\n`);
  };
  row(`verifyAttestation, ${SIGNERS} signers (decompression included)`, aggregate);
  row('baseline: one BLS signature verification', single);
  row(`baseline: ${SIGNERS} signatures verified one by one`, oneByOne);
  row('operator phase 2: Rego evaluation + digest + BLS sign', phase2);
  row('baseline: bare BLS sign of a digest', bareSign);
  process.stdout.write(
    `aggregate/single ratio p50: ${(percentile(aggregate, 50) / percentile(single, 50)).toFixed(2)}x; ` +
      `one-by-one/aggregate p50: ${(percentile(oneByOne, 50) / percentile(aggregate, 50)).toFixed(1)}x\n`,
  );
}

/**
 * Prints the latency of `POST /v1/intents` until the attestation (three operator processes staked
 * 50/30/20 in an OperatorRegistry on anvil, TaskQuorum Durable Object, BLS verification and
 * aggregation in workerd with WebAssembly), without and with
 * a PolicyData module, against the floor of any call through wrangler dev (`GET /healthz`).
 */
export async function benchIntentAttestation(iterations: number): Promise<void> {
  const anvil = await startAnvil();
  const chain = await deployOperatorChain(anvil.rpcUrl, anvil.accounts[0]!.privateKey);
  const stack = await launchTestStack({ backends: 0, models: [], payments: false, workerVars: chain.workerVars });
  const group = new ProcessGroup();
  try {
    await launchOperators({
      gateway: stack.gateway,
      operatorToken: stack.operatorToken,
      chain,
      stateDir: stack.stateDir,
      logsDir: stack.logsDir,
      group,
      stakes: [50n, 30n, 20n],
    });
    const plain = await fetch(`${stack.gateway}/v1/policies`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ modules: { 'intent.rego': POLICY }, entrypoint: 'data.proofgate.intent', params: { maxValue: 5000, blocked: [] } }),
    }).then(async (r) => ((await r.json()) as { id: Hex }).id);
    const withData = (await publishDemoIntentPolicy(stack.gateway, stack.adminToken)).policyId;
    const intent = (policyId: Hex) => async (): Promise<void> => {
      const res = await fetch(`${stack.gateway}/v1/intents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ intent: { ...task().intent, value: '1' }, policyId }),
      });
      const body = (await res.json()) as { status?: string };
      if (body.status !== 'completed') throw new Error(`intent did not complete: ${JSON.stringify(body)}`);
    };
    const runs = Math.min(iterations, 30);
    const floor = await timeRuns(() => fetch(`${stack.gateway}/healthz`).then((r) => r.arrayBuffer()), runs, 3);
    const rego = await timeRuns(intent(plain), runs, 2);
    const policyData = await timeRuns(intent(withData), runs, 2);
    process.stdout.write(`\nintent → attestation through the gateway (3 operator processes, ${runs} sequential intents each)\n`);
    process.stdout.write(`${'what'.padEnd(52)} ${'p50'.padStart(11)} ${'p99'.padStart(11)}\n`);
    for (const [label, samples] of [
      ['baseline: GET /healthz through wrangler dev', floor],
      ['intent, Rego policy only', rego],
      ['intent, Rego policy + one PolicyData module', policyData],
    ] as const) {
      process.stdout.write(`${label.padEnd(52)} ${ms(percentile(samples, 50))} ${ms(percentile(samples, 99))}\n`);
    }
  } finally {
    await group.stopAll();
    await stack.stop();
    await anvil.stop();
  }
}
