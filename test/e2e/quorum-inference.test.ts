import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as blst from '@chainsafe/blst';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { attestationValidatorArtifact } from '../../chain/attestation-validator';
import { connect, type ChainClients } from '../../chain/clients';
import { deployModelOutputConsumer, modelOutputConsumerArtifact, toInferenceCallData } from '../../chain/inference-attestation';
import {
  computeInferenceDigest,
  inferenceAttestationSchema,
  readRegistrySnapshot,
  verifyInferenceAttestation,
  type InferenceAttestation,
} from '../../core/attestation';
import { verifyReceipt, type InferenceReceipt } from '../../core/receipts';
import { TENSORS_MEDIA_TYPE, encodeTensors, sha256Hex, tensorMapFromJson } from '../../core/tensors';
import type { LocalStack } from '../../local-stack/launch';
import { testModels } from '../../scripts/generate-test-models';
import { readReplyHeader } from '../../workers/inference/reply-format';
import { revertsWith } from '../support/contract-reverts';
import { call, postJson } from '../support/gateway-client';
import { attachOperatorBackend, type OperatorBackend } from '../support/operator-backend';
import { launchTestStack } from '../support/test-stack';
import { verifyInferenceAttestation as sdkVerify } from '../../sdk/src';
import { balances, fundedPayer, officialClient, paymentHeader, requirementsOf } from '../support/x402-payer';

// Quorum inference on the whole stack: anvil with the OperatorRegistry (operator-1/2/3, stakes
// 50/30/20, registered with their proofs of possession), the AttestationValidator and an example
// contract acting on model outputs; the Worker in workerd with its InferenceQuorum Durable Objects;
// backends of three distinct operators, each attached with its operator's BLS key: two backend
// processes (operator-1, operator-2) and, for operator-3, one in this process whose float outputs the
// test can shift. Native blst, the library, the endpoint and the contract judge each attestation.

const PRICE = 2500n;
const INPUTS = {
  a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] },
  b: { type: 'float32', dims: [1, 4], data: [0.5, 0.25, 0.125, 2] },
};
const BODY = JSON.stringify({ inputs: INPUTS });

let stack: LocalStack;
let chain: ChainClients;
let third: OperatorBackend;
const sha = new Map<string, Hex>();

async function publish(name: string, bytes: Uint8Array, query: string): Promise<void> {
  const res = await fetch(`${stack.gateway}/v1/models/${name}/versions?${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await res.text();
  assert.ok(res.ok, text);
  const model = JSON.parse(text) as { sha256: Hex };
  sha.set(name, model.sha256);
}

const inferUrl = (model: string, k: number) => `${stack.gateway}/v1/models/${model}/infer?mode=quorum&k=${k}`;
const quorum = (model: string, k: number, headers: Record<string, string> = {}) =>
  call(inferUrl(model, k), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY });

function keysOf(a: InferenceAttestation, snapshot: Awaited<ReturnType<typeof snapshotOf>>, signers = a.signers): Uint8Array[] {
  return signers.map((id) => hexToBytes(snapshot.operators.find((o) => o.id === id)!.blsPublicKey));
}

const snapshotOf = (a: InferenceAttestation) => readRegistrySnapshot(chain.publicClient, a.registry, a.registryBlock);

/** Native blst (FastAggregateVerify, POP ciphersuite) on the recomputed digest. */
function blstAccepts(a: InferenceAttestation, keys: Uint8Array[]): boolean {
  const digest = hexToBytes(computeInferenceDigest(a));
  return blst.verify(digest, blst.aggregateSerializedPublicKeys(keys, true), blst.Signature.fromBytes(hexToBytes(a.aggregateSignature), true, true));
}

async function endpointVerdict(a: unknown, extra: Record<string, unknown> = {}): Promise<{ valid: boolean; reasons: string[] }> {
  const res = await postJson(`${stack.gateway}/v1/attestations/verify`, { attestation: a, ...extra });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function contractView(a: InferenceAttestation, required = 6700): Promise<Hex> {
  return chain.publicClient.readContract({
    address: stack.chain!.attestationValidator as Address,
    abi: attestationValidatorArtifact().abi,
    functionName: 'verifyInference',
    args: [toInferenceCallData(a), required],
  }) as Promise<Hex>;
}

async function accept(consumer: Address, outputs: Uint8Array, a: InferenceAttestation): Promise<void> {
  const abi = [...modelOutputConsumerArtifact().abi, ...attestationValidatorArtifact().abi.filter((i) => i.type === 'error')];
  const { request } = await chain.publicClient.simulateContract({
    account: chain.account,
    address: consumer,
    abi,
    functionName: 'accept',
    args: [bytesToHex(outputs), toInferenceCallData(a)],
  });
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: await chain.walletClient.writeContract(request), pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
}

before(async () => {
  stack = await launchTestStack({ backends: 2, operatorStakes: [50n, 30n, 20n], models: [] });
  third = await attachOperatorBackend(stack.gateway, stack.operatorToken, {
    id: 'operator-3',
    keyFile: join(stack.stateDir, 'keys', 'operator-3.bls.key'),
  });
  chain = await connect(stack.chain!.rpc, stack.chain!.payerPrivateKey as Hex);
  const [add] = testModels();
  const [strict] = testModels('-strict');
  const [tolerant] = testModels('-tolerant');
  const [exact] = testModels('-exact');
  await publish('q-add', add!.bytes, 'price=0');
  await publish('q-add-paid', add!.bytes, `price=${PRICE}`);
  // Only a unanimous quorum of stake (9000 bps of 100: more than 80) attests these two.
  await publish('q-strict', strict!.bytes, `price=${PRICE}&quorumBps=9000`);
  await publish('q-tolerant', tolerant!.bytes, 'price=0&quorumBps=9000&absTolerance=1e-3&relTolerance=0');
  await publish('q-exact', exact!.bytes, 'price=0&quorumBps=9000');
});
after(async () => {
  await third?.stop();
  await stack?.stop();
});

describe('quorum inference: N backends of N distinct operators, one attestation', { timeout: 900_000 }, () => {
  it('attaches each backend to an operator it proved it belongs to', async () => {
    const { body } = await call(`${stack.gateway}/v1/backends`);
    const operators = (body.backends as { operator: { id: string } | null; inPool: boolean }[]).filter((b) => b.inPool).map((b) => b.operator?.id);
    assert.deepEqual(operators.sort(), ['operator-1', 'operator-2', 'operator-3']);
    assert.deepEqual(
      stack.backends.map((b) => b.operator),
      ['operator-1', 'operator-2'],
    );
    const { body: model } = await call(`${stack.gateway}/v1/models/q-tolerant`);
    assert.deepEqual(model.versions[0].quorum, { thresholdBps: 9000, tolerance: { absolute: 0.001, relative: 0 } });
  });

  for (const k of [2, 3]) {
    it(`k=${k}: an attestation that native blst, the library, the endpoint and the contract accept, and each refuses when changed`, async () => {
      const res = await quorum('q-add', k);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const a: InferenceAttestation = res.body.attestation;
      assert.ok(inferenceAttestationSchema.safeParse(a).success);
      assert.deepEqual(a.signers, ['operator-1', 'operator-2', 'operator-3'].slice(0, k));
      assert.equal(a.signedStake, k === 2 ? '80' : '100');
      assert.equal(a.totalStake, '100');
      assert.equal(a.thresholdBps, 6700);
      assert.equal(a.modelSha256, sha.get('q-add'));
      assert.equal(a.registry, stack.chain!.operatorRegistry);
      assert.equal(res.body.receipts.length, k);
      assert.equal(res.body.quorum.k, k);

      // The outputs are the model's, and their canonical bytes are what the attestation names.
      const outputs = tensorMapFromJson(res.body.outputs);
      const outputBytes = encodeTensors(outputs);
      assert.equal(await sha256Hex(outputBytes), a.outputHash);
      assert.deepEqual(res.body.outputs.sum.data, [1.5, 2.25, 3.125, 6]);
      assert.equal(a.inputHash, await sha256Hex(encodeTensors(tensorMapFromJson(INPUTS))));
      const backends = (await call(`${stack.gateway}/v1/backends`)).body.backends.map((b: { address: Address }) => b.address);
      for (const receipt of res.body.receipts as InferenceReceipt[]) {
        assert.equal(receipt.outputHash, a.outputHash, 'every operator computed the very same bytes');
        assert.deepEqual((await verifyReceipt(receipt, { inputs: INPUTS, outputs: res.body.outputs, trustedBackends: backends })).reasons, []);
      }

      const snapshot = await snapshotOf(a);
      const now = BigInt(Math.floor(Date.now() / 1000));
      const options = {
        now,
        requiredThresholdBps: 6700,
        expectedChainId: stack.chain!.chainId,
        expectedModelSha256: sha.get('q-add')!,
        expectedOutputHash: a.outputHash,
      };
      assert.ok(blstAccepts(a, keysOf(a, snapshot)), 'native blst');
      assert.deepEqual(verifyInferenceAttestation(a, snapshot, options), { valid: true, reasons: [] }, 'the library');
      assert.deepEqual(await endpointVerdict(a), { valid: true, reasons: [] }, 'the endpoint');
      const consumeHere = await postJson(`${stack.gateway}/v1/attestations/consume`, { attestation: a });
      assert.deepEqual([consumeHere.status, consumeHere.body.error.code], [422, 'consume_on_chain'], 'used once per contract, on chain');
      assert.equal(await contractView(a), a.digest, 'the contract');
      const sdkOffline = await sdkVerify(a, { chain: stack.chain!.rpc, requiredThresholdBps: 6700, expectedOutputHash: a.outputHash });
      assert.deepEqual(sdkOffline, { valid: true, reasons: [], checkedBy: 'offline' }, 'the SDK, reading the snapshot from chain');
      assert.deepEqual(
        await sdkVerify(a, { gateway: stack.gateway }),
        { valid: true, reasons: [], checkedBy: 'gateway' },
        'the SDK, asking the gateway',
      );

      const dropped = a.signers.slice(1);
      const changes: Partial<InferenceAttestation>[] = [
        { outputHash: `0x${'00'.repeat(32)}` },
        { modelSha256: sha.get('q-strict')! },
        { chainId: 1 },
        { expiration: a.expiration + 60 },
        { signers: dropped, nonSigners: [...a.nonSigners, a.signers[0]!] },
      ];
      for (const change of changes) {
        const changed = { ...a, ...change, digest: computeInferenceDigest({ ...a, ...change }) };
        const what = JSON.stringify(change);
        assert.equal(blstAccepts(changed, keysOf(changed, snapshot)), false, `blst: ${what}`);
        assert.equal(verifyInferenceAttestation(changed, snapshot, { now, requiredThresholdBps: 6700 }).valid, false, `library: ${what}`);
        assert.equal((await endpointVerdict(changed)).valid, false, `endpoint: ${what}`);
        await assert.rejects(contractView(changed), `contract: ${what}`);
        assert.equal((await sdkVerify(changed, { chain: stack.chain!.rpc, requiredThresholdBps: 6700 })).valid, false, `sdk: ${what}`);
      }

      // A contract acts on the output bytes, once.
      const consumer = await deployModelOutputConsumer(
        stack.chain!.rpc,
        stack.chain!.payerPrivateKey as Hex,
        stack.chain!.attestationValidator as Address,
        {
          sha256: sha.get('q-add')!,
          requiredThresholdBps: 6700,
          maxTolerance: { absolute: 0, relative: 0 },
        },
      );
      await assert.rejects(accept(consumer, encodeTensors({ ...outputs, sum: outputs.product! }), a), revertsWith('OutputMismatch'));
      await accept(consumer, outputBytes, a);
      await assert.rejects(accept(consumer, outputBytes, a), revertsWith('AlreadyConsumed'));

      // The evidence of the request stays at its URL.
      const evidence = await call(res.body.quorum.evidence);
      assert.equal(evidence.status, 200);
      assert.equal(evidence.body.status, 'attested');
      assert.deepEqual(evidence.body.attestation, a);
    });
  }

  it('answers binary bodies with the reference output bytes and the attestation in headers, and the Open Inference Protocol in its parameters', async () => {
    const inputBytes = encodeTensors(tensorMapFromJson(INPUTS));
    const res = await fetch(inferUrl('q-add', 2), {
      method: 'POST',
      headers: { 'content-type': TENSORS_MEDIA_TYPE, accept: TENSORS_MEDIA_TYPE },
      body: inputBytes,
    });
    assert.equal(res.status, 200);
    const outputBytes = new Uint8Array(await res.arrayBuffer());
    const a = readReplyHeader<InferenceAttestation>(res.headers.get('proofgate-attestation'))!;
    assert.equal(await sha256Hex(outputBytes), a.outputHash);
    assert.equal(readReplyHeader<InferenceReceipt[]>(res.headers.get('proofgate-receipts'))!.length, 2);
    assert.deepEqual(await endpointVerdict(a), { valid: true, reasons: [] });

    const kserve = await postJson(`${stack.gateway}/v2/models/q-add/infer?mode=quorum&k=3`, {
      inputs: [
        { name: 'a', shape: [1, 4], datatype: 'FP32', data: INPUTS.a.data },
        { name: 'b', shape: [1, 4], datatype: 'FP32', data: INPUTS.b.data },
      ],
    });
    assert.equal(kserve.status, 200, JSON.stringify(kserve.body));
    const k = JSON.parse(kserve.body.parameters.proofgate_attestation) as InferenceAttestation;
    assert.equal(k.signers.length, 3);
    assert.deepEqual(await endpointVerdict(k), { valid: true, reasons: [] });
  });

  it('refuses what it cannot honour: tee and zkml (501), more operators than serve the model (503), a bad k (400)', async () => {
    for (const mode of ['tee', 'zkml']) {
      const res = await call(`${stack.gateway}/v1/models/q-add/infer?mode=${mode}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: BODY,
      });
      assert.equal(res.status, 501);
      assert.equal(res.body.error.code, `${mode}_not_available`);
    }
    const four = await quorum('q-add', 4);
    assert.equal(four.status, 503);
    assert.equal(four.body.error.code, 'not_enough_operators');
    assert.deepEqual([four.body.error.requested, four.body.error.available], [4, 3]);
    assert.equal((await quorum('q-add', 1)).status, 400);
  });

  it('charges a priced quorum call k × its price, said in the 402, and only with the attestation', async () => {
    const unpaid = await quorum('q-add-paid', 2);
    assert.equal(unpaid.status, 402);
    assert.equal(unpaid.body.accepts[0].amount, String(2n * PRICE));
    assert.deepEqual([unpaid.body.quorum.k, unpaid.body.quorum.pricePerRun, unpaid.body.quorum.amount], [2, String(PRICE), String(2n * PRICE)]);
    assert.equal(unpaid.headers.get('proofgate-quorum-price'), `2 x ${PRICE} = ${2n * PRICE}`);

    const payer = await fundedPayer(stack, 100_000n);
    const balanceOf = balances(stack);
    const before = await balanceOf(payer.address);
    const res = await officialClient(stack, payer)(inferUrl('q-add-paid', 2), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
    });
    const body = (await res.json()) as {
      attestation: InferenceAttestation;
      payment: { state: string; charged: string };
      receipts: InferenceReceipt[];
    };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.payment.state, 'settled');
    assert.equal(body.payment.charged, String(2n * PRICE));
    assert.deepEqual(
      body.receipts.map((r) => r.charged),
      [String(PRICE), String(PRICE)],
    );
    assert.equal(await balanceOf(payer.address), before - 2n * PRICE);
    assert.deepEqual(await endpointVerdict(body.attestation), { valid: true, reasons: [] });
  });

  it('answers quorum_disagreement when one backend computes other outputs, keeps the evidence, and charges nothing', async () => {
    const payer = await fundedPayer(stack, 100_000n);
    const balanceOf = balances(stack);
    const before = await balanceOf(payer.address);
    const requirements = await requirementsOf(inferUrl('q-strict', 3), BODY);
    assert.equal(requirements.amount, String(3n * PRICE));
    const { header } = await paymentHeader(payer, requirements);
    third.perturbation.delta = 0.5;
    try {
      const res = await quorum('q-strict', 3, { 'payment-signature': header });
      assert.equal(res.status, 502, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'quorum_disagreement');
      const evidence = await call(res.body.error.evidence);
      assert.equal(evidence.status, 200);
      assert.equal(evidence.body.status, 'disagreed');
      assert.equal(evidence.body.attestation, null);
      assert.equal(evidence.body.receipts.length, 3);
      const runs = new Map(
        (evidence.body.runs as { operatorId: string; outputHash: Hex; agrees: boolean; signed: boolean }[]).map((r) => [r.operatorId, r]),
      );
      assert.equal(runs.get('operator-1')!.outputHash, runs.get('operator-2')!.outputHash);
      assert.notEqual(runs.get('operator-3')!.outputHash, runs.get('operator-1')!.outputHash);
      assert.deepEqual(
        [...runs.values()].map((r) => [r.operatorId, r.agrees, r.signed]),
        [
          ['operator-1', true, false],
          ['operator-2', true, false],
          ['operator-3', false, false],
        ],
      );
      assert.equal(evidence.body.reference.agreeingStake, '80');
      assert.deepEqual(
        (evidence.body.receipts as InferenceReceipt[]).map((r) => r.outputHash).sort(),
        [...runs.values()].map((r) => r.outputHash).sort(),
        'every receipt is kept, with its output hash',
      );
      assert.equal(await balanceOf(payer.address), before, 'nothing charged');
    } finally {
      third.perturbation.delta = 0;
    }
    // The authorization was released, not spent: the same payment pays for the call once the operators agree.
    const agreed = await quorum('q-strict', 3, { 'payment-signature': header });
    assert.equal(agreed.status, 200, JSON.stringify(agreed.body));
    assert.equal(agreed.body.attestation.signers.length, 3);
    assert.equal(await balanceOf(payer.address), before - 3n * PRICE);
  });

  it("agrees on float outputs within the model's declared tolerance, and not beyond it", async () => {
    try {
      third.perturbation.delta = 1e-4; // within absTolerance 1e-3
      const within = await quorum('q-tolerant', 3);
      assert.equal(within.status, 200, JSON.stringify(within.body));
      const a: InferenceAttestation = within.body.attestation;
      assert.deepEqual(a.signers, ['operator-1', 'operator-2', 'operator-3'], 'operator-3 signed the reference within the tolerance');
      assert.deepEqual(a.tolerance, { absolute: 0.001, relative: 0 });
      const receipts = within.body.receipts as InferenceReceipt[];
      assert.equal(new Set(receipts.map((r) => r.outputHash)).size, 2, 'two distinct outputs agreed');
      assert.equal(receipts[0]!.outputHash, a.outputHash, 'the reference is the output most stake computed');
      assert.deepEqual(await endpointVerdict(a), { valid: true, reasons: [] });
      assert.deepEqual((await endpointVerdict(a, { maxTolerance: { absolute: 0, relative: 0 } })).reasons, ['tolerance_too_loose']);

      third.perturbation.delta = 1e-2; // beyond it
      const beyond = await quorum('q-tolerant', 3);
      assert.equal(beyond.status, 502, JSON.stringify(beyond.body));
      assert.equal(beyond.body.error.code, 'quorum_disagreement');

      third.perturbation.delta = 1e-4; // within 1e-3, but this model declared no tolerance: identical outputs only
      const exact = await quorum('q-exact', 3);
      assert.equal(exact.status, 502, JSON.stringify(exact.body));
      assert.equal(exact.body.error.code, 'quorum_disagreement');

      // Under a two-thirds quorum the two operators that agree (80 of 100) attest without the third.
      const outvoted = await quorum('q-add', 3);
      assert.equal(outvoted.status, 200, JSON.stringify(outvoted.body));
      assert.deepEqual(outvoted.body.attestation.signers, ['operator-1', 'operator-2']);
      assert.deepEqual(outvoted.body.attestation.nonSigners, ['operator-3']);
      assert.equal(outvoted.body.receipts.length, 3);
    } finally {
      third.perturbation.delta = 0;
    }
  });
});
