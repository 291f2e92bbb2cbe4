import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import {
  aggregateSignatures,
  computePolicyDataHash,
  expectedDigest,
  generateKeyPair,
  policyDataReportDigest,
  signMessage,
  verifySignature,
  type OperatorRegistry,
  type PolicyDataReportGroup,
} from '../../../core/attestation';
import { deriveNodeAuthKey, operatorAuthLabel } from '../../../core/node-protocol';
import {
  TASK_PATHS,
  computePolicyId,
  policyDataReplySchema,
  signReplySchema,
  type PolicyContent,
  type TaskAssignment,
} from '../../../core/operator-protocol';
import { OperatorCallError, callOperator } from '../../../durable-objects/operator-calls';
import { operatorKeyFromSecret } from '../../../signer-node/operator-key';
import { PolicyDataRunner } from '../../../signer-node/policy-data-runner';
import { PolicySource } from '../../../signer-node/policy-source';
import { TaskRegistryError, type RegistrySnapshots } from '../../../signer-node/registry-reader';
import { createSignerServer } from '../../../signer-node/signer-server';
import { KEYS, POLICY, REGISTRY, REGISTRY_BLOCK, makeTask, registry } from './task-fixtures';

// A signer node over HTTP, as the gateway calls it, with its policies served by a "gateway" that may
// lie: the node must evaluate only content that hashes to the task's policy id, the quorum of that
// policy, and PolicyData that the operators' signed reports give.

const SECRET = 'gateway-secret-for-tests';
const key = operatorKeyFromSecret(KEYS[0]!.secretKey);

/** The registry snapshots a node reads from chain, here the fixture snapshot at its block. */
const snapshots: RegistrySnapshots = {
  snapshot: async (address: Address, blockNumber: number): Promise<OperatorRegistry> => {
    if (address.toLowerCase() !== REGISTRY.toLowerCase() || blockNumber !== REGISTRY_BLOCK) throw new TaskRegistryError('not the fixture snapshot');
    return registry();
  },
};

const STRICT: PolicyContent = {
  modules: { 'intent.rego': POLICY },
  entrypoint: 'data.proofgate.intent',
  params: { maxValue: 5000, blocked: [] },
  policyData: [],
  thresholdBps: 6700,
};
const PERMISSIVE_REGO = 'package proofgate.intent\n\nimport rego.v1\n\nallow := true\n';
const DATA_POLICY: PolicyContent = {
  modules: {
    'risk.rego': `package proofgate.intent

import rego.v1

default allow := false

allow if to_number(input.value) <= data.wasm.risk.limit
deny contains "value above the PolicyData limit" if to_number(input.value) > data.wasm.risk.limit
`,
  },
  entrypoint: 'data.proofgate.intent',
  params: {},
  policyData: [{ name: 'risk', sha256: `0x${'aa'.repeat(32)}` }],
  thresholdBps: 6700,
};

// What the "gateway" serves under each id; `lie` replaces the content of one id.
const served = new Map<string, unknown>();
let strictId: Hex;
let dataId: Hex;
let url: string;
let servers: Server[] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  strictId = await computePolicyId(STRICT);
  dataId = await computePolicyId(DATA_POLICY);
  served.set(strictId, { id: strictId, ...STRICT, createdAt: '2026-01-01T00:00:00.000Z' });
  served.set(dataId, { id: dataId, ...DATA_POLICY });
  const policyServer = createServer((req, res) => {
    const id = (req.url ?? '').split('/').pop() ?? '';
    const body = served.get(id);
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: { code: 'policy_not_found' } }));
  });
  const policyUrl = await listen(policyServer);
  const authKey = await deriveNodeAuthKey(SECRET, operatorAuthLabel('operator-1'));
  const server = createSignerServer({
    key,
    authKey: () => authKey,
    operatorId: () => 'operator-1',
    policyData: new PolicyDataRunner('http://127.0.0.1:9'),
    policies: new PolicySource(policyUrl),
    registry: snapshots,
  });
  url = await listen(server);
});
after(() => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  servers = [];
});

let nextTask = 0x30;
/** A task as the gateway sends it (no policy content), created now. */
function assignment(overrides: Partial<TaskAssignment> = {}): TaskAssignment {
  const { policyClient, chainId, intent, thresholdBps, registry: reg, registryBlock, expiration } = makeTask();
  const createdAt = Math.floor(Date.now() / 1000);
  return {
    taskId: `0x${(nextTask++).toString(16).padStart(2, '0').repeat(32)}` as Hex,
    policyId: strictId,
    policyClient,
    chainId,
    intent,
    thresholdBps,
    registry: reg,
    registryBlock,
    createdAt,
    expiration: createdAt + (expiration - makeTask().createdAt),
    ...overrides,
  };
}

const call = (path: string, task: TaskAssignment, body: unknown, secret = SECRET, id = 'operator-1') =>
  callOperator(secret, { id, url }, path, { taskId: task.taskId, policyId: task.policyId }, body, 10_000);
const fails = (status: number, code?: string) => (e: unknown) =>
  e instanceof OperatorCallError && e.message.includes(`HTTP ${status}`) && (code === undefined || e.message.includes(code));

/** Phase 1 reports of fixture operators `indices` (KEYS[i], operator-(i+1)) with the same outputs, as the gateway groups them. */
function group(
  indices: number[],
  taskId: Hex,
  outputs: PolicyDataReportGroup['outputs'],
  signers = indices.map((i) => KEYS[i]!.secretKey),
): PolicyDataReportGroup {
  const digest = hexToBytes(policyDataReportDigest(taskId, outputs));
  return {
    operatorIds: indices.map((i) => `operator-${i + 1}`),
    outputs,
    signature: bytesToHex(aggregateSignatures(signers.map((key) => signMessage(key, digest)))),
  };
}

describe('signer node task endpoints', () => {
  it('signs the verdict of a gateway-authenticated task under its hash-checked policy, and only once', async () => {
    const task = assignment();
    const body = { task, reports: [] };
    const reply = signReplySchema.parse(await call(TASK_PATHS.sign, task, body));
    assert.equal(reply.allowed, true);
    assert.equal(reply.digest, expectedDigest(task, computePolicyDataHash({}), true));
    assert.ok(verifySignature(key.publicKey, hexToBytes(reply.digest), hexToBytes(reply.signature)));
    await assert.rejects(call(TASK_PATHS.sign, task, body), fails(409));
  });

  it('refuses a request signed with a key derived from another secret', async () => {
    const task = assignment();
    await assert.rejects(call(TASK_PATHS.sign, task, { task, reports: [] }, 'another-secret'), fails(401));
  });

  it("refuses a request signed with another operator's derived key", async () => {
    const task = assignment();
    await assert.rejects(call(TASK_PATHS.sign, task, { task, reports: [] }, SECRET, 'operator-2'), fails(401));
  });

  it('refuses a body for another task than the request names', async () => {
    const task = assignment();
    const other = assignment();
    await assert.rejects(
      callOperator(
        SECRET,
        { id: 'operator-1', url },
        TASK_PATHS.sign,
        { taskId: other.taskId, policyId: task.policyId },
        { task, reports: [] },
        10_000,
      ),
      fails(400),
    );
  });

  it('evaluates the policy its id names, never modules the task carries', async () => {
    // A lying gateway sends a permissive policy inline with a task for the strict policy's id.
    const task = assignment({ intent: { ...makeTask().intent, value: '9999' } });
    const reply = signReplySchema.parse(
      await call(TASK_PATHS.sign, task, { task: { ...task, modules: { 'p.rego': PERMISSIVE_REGO } }, reports: [] }),
    );
    assert.equal(reply.allowed, false, 'the real policy denies a value above 5000');
    assert.deepEqual(reply.reasons, ['value above limit']);
  });

  describe('refuses a task whose policy content, as served, does not hash to its id', () => {
    const forgedId = `0x${'0f'.repeat(32)}` as Hex;
    // The gateway serves permissive content under an id it does not hash to (set once; no test changes it).
    before(() => {
      served.set(forgedId, { ...STRICT, modules: { 'p.rego': PERMISSIVE_REGO } });
    });

    it('when asked to sign', async () => {
      const task = assignment({ policyId: forgedId });
      await assert.rejects(call(TASK_PATHS.sign, task, { task, reports: [] }), fails(422, 'policy_content_mismatch'));
    });

    it('when asked for its phase 1 report', async () => {
      const phase1 = assignment({ policyId: forgedId });
      await assert.rejects(call(TASK_PATHS.policyData, phase1, { task: phase1 }), fails(422, 'policy_content_mismatch'));
    });
  });

  describe("refuses a quorum other than the policy's, a task far from its clock, and another registry", () => {
    const cases: [string, () => TaskAssignment, string][] = [
      ["a quorum other than the policy's", () => assignment({ thresholdBps: 5000 }), 'threshold_mismatch'],
      ['a task an hour old', () => assignment({ createdAt: Math.floor(Date.now() / 1000) - 3600 }), 'stale_task'],
      ['another registry', () => assignment({ registry: '0x00000000000000000000000000000000000000e8' }), 'unknown_registry'],
    ];
    for (const [name, make, code] of cases) {
      it(`${name}: ${code}`, async () => {
        const task = make();
        await assert.rejects(call(TASK_PATHS.sign, task, { task, reports: [] }), fails(422, code));
      });
    }
  });

  it('signs its phase 1 report', async () => {
    const task = assignment();
    const reply = policyDataReplySchema.parse(await call(TASK_PATHS.policyData, task, { task }));
    assert.deepEqual(reply.outputs, {});
    assert.ok(verifySignature(key.publicKey, hexToBytes(policyDataReportDigest(task.taskId, {})), hexToBytes(reply.signature)));
  });

  it('evaluates on the consensus of the signed reports', async () => {
    const task = assignment({ policyId: dataId, intent: { ...makeTask().intent, value: '700' } });
    const reply = signReplySchema.parse(
      await call(TASK_PATHS.sign, task, { task, reports: [group([0, 1], task.taskId, { risk: { ok: { limit: 1000 } } })] }),
    );
    assert.equal(reply.allowed, true);
    assert.equal(reply.policyDataHash, computePolicyDataHash({ risk: { limit: 1000 } }));
  });

  it("refuses outputs nobody signed (the gateway's invention, under an operator's name)", async () => {
    const invented = assignment({ policyId: dataId, intent: { ...makeTask().intent, value: '700' } });
    const stranger = generateKeyPair(new Uint8Array(32).fill(0x77)).secretKey;
    const forged = group([0, 1], invented.taskId, { risk: { ok: { limit: 1_000_000 } } }, [KEYS[0]!.secretKey, stranger]);
    await assert.rejects(call(TASK_PATHS.sign, invented, { task: invented, reports: [forged] }), fails(422, 'invalid_policy_data_reports'));
  });

  it('refuses a report signed for another task', async () => {
    const task = assignment({ policyId: dataId });
    const replayed = assignment({ policyId: dataId });
    await assert.rejects(
      call(TASK_PATHS.sign, replayed, { task: replayed, reports: [group([0, 1], task.taskId, { risk: { ok: { limit: 1000 } } })] }),
      fails(422, 'invalid_policy_data_reports'),
    );
  });

  it('refuses one report given twice', async () => {
    const twice = assignment({ policyId: dataId });
    const one = group([0], twice.taskId, { risk: { ok: { limit: 1000 } } });
    await assert.rejects(call(TASK_PATHS.sign, twice, { task: twice, reports: [one, one] }), fails(422, 'invalid_policy_data_reports'));
  });

  it('refuses a report signed twice by one operator', async () => {
    const inOne = assignment({ policyId: dataId });
    await assert.rejects(
      call(TASK_PATHS.sign, inOne, { task: inOne, reports: [group([0, 0], inOne.taskId, { risk: { ok: { limit: 1000 } } })] }),
      fails(422, 'invalid_policy_data_reports'),
    );
  });

  it('refuses to evaluate without a majority of stake reporting (withheld reports): no data to evaluate on', async () => {
    // 50 of 100 stake is no majority.
    const withheld = assignment({ policyId: dataId });
    await assert.rejects(
      call(TASK_PATHS.sign, withheld, { task: withheld, reports: [group([0], withheld.taskId, { risk: { ok: { limit: 1000 } } })] }),
      fails(422, 'policy_data_no_consensus'),
    );
  });
});
