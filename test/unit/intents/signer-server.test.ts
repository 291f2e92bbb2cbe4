import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { hexToBytes, type Hex } from 'viem';
import { computePolicyDataHash, verifySignature } from '../../../core/attestation';
import { deriveNodeAuthKey, operatorAuthLabel } from '../../../core/node-protocol';
import { operatorKeyFromSecret } from '../../../signer-node/operator-key';
import { createSignerServer } from '../../../signer-node/signer-server';
import { PolicyDataRunner } from '../../../signer-node/policy-data-runner';
import { OperatorCallError, callOperator } from '../../../durable-objects/operator-calls';
import { TASK_PATHS, signReplySchema } from '../../../core/operator-protocol';
import { expectedDigest } from '../../../core/attestation';
import { KEYS, makeTask } from './task-fixtures';

const SECRET = 'gateway-secret-for-tests';
const key = operatorKeyFromSecret(KEYS[0]!.secretKey);
let url: string;
let close: () => void;

before(async () => {
  const authKey = await deriveNodeAuthKey(SECRET, operatorAuthLabel('operator-1'));
  const server = createSignerServer({
    key,
    authKey: () => authKey,
    operatorId: () => 'operator-1',
    policyData: new PolicyDataRunner('http://127.0.0.1:9'),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => {
    server.closeAllConnections();
    server.close();
  };
});
after(() => close());

const ids = (task: ReturnType<typeof makeTask>) => ({ taskId: task.taskId, policyId: task.policyId });
const fails = (status: number) => (e: unknown) => e instanceof OperatorCallError && e.message.includes(`HTTP ${status}`);

describe('operator node task endpoints', () => {
  it('signs the verdict of a gateway-authenticated task, and only once', async () => {
    const task = makeTask({ taskId: `0x${'31'.repeat(32)}` });
    const body = { task, policyData: {} };
    const reply = signReplySchema.parse(await callOperator(SECRET, { id: 'operator-1', url }, TASK_PATHS.sign, ids(task), body, 10_000));
    assert.equal(reply.allowed, true);
    assert.equal(reply.digest, expectedDigest(task, computePolicyDataHash({}), true));
    assert.ok(verifySignature(key.publicKey, hexToBytes(reply.digest), hexToBytes(reply.signature)));
    await assert.rejects(callOperator(SECRET, { id: 'operator-1', url }, TASK_PATHS.sign, ids(task), body, 10_000), fails(409));
  });

  it('refuses requests not signed with its own derived key', async () => {
    const task = makeTask({ taskId: `0x${'32'.repeat(32)}` });
    await assert.rejects(
      callOperator('another-secret', { id: 'operator-1', url }, TASK_PATHS.sign, ids(task), { task, policyData: {} }, 10_000),
      fails(401),
    );
    // The key of another operator id is another key.
    await assert.rejects(callOperator(SECRET, { id: 'operator-2', url }, TASK_PATHS.sign, ids(task), { task, policyData: {} }, 10_000), fails(401));
  });

  it('refuses a body whose task is not the one the request was signed for', async () => {
    const task = makeTask({ taskId: `0x${'33'.repeat(32)}` });
    const other = { taskId: `0x${'34'.repeat(32)}` as Hex, policyId: task.policyId };
    await assert.rejects(callOperator(SECRET, { id: 'operator-1', url }, TASK_PATHS.sign, other, { task, policyData: {} }, 10_000), fails(400));
  });

  it('reports no outputs for a task without PolicyData modules', async () => {
    const task = makeTask({ taskId: `0x${'35'.repeat(32)}` });
    assert.deepEqual(await callOperator(SECRET, { id: 'operator-1', url }, TASK_PATHS.policyData, ids(task), { task }, 10_000), { outputs: {} });
  });
});
