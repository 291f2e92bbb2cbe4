import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { computeInferenceDigest, verifySignature, type InferenceAttestationRequest } from '../../../core/attestation';
import { operatorAttachmentMessage, quorumRunRequestId, type QuorumSignRequest } from '../../../core/backend-protocol';
import { ProofgateError } from '../../../core/errors';
import { encodeTensors, type TensorMap } from '../../../core/tensors';
import { loadBackendOperator, operatorAttachment } from '../../../gpu-backend/operator-attachment';
import { QuorumSigner } from '../../../gpu-backend/quorum-signer';
import { QUORUM_OPERATORS, float32, inferenceRequest, outputHash } from './fixtures';

const OPERATOR = QUORUM_OPERATORS[0]!;
const BACKEND: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const NOW_MS = Date.now();

async function sha256(bytes: Uint8Array): Promise<Hex> {
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/** A signer whose backend ran `own` for the request, and a function asking it to sign a reference. */
async function setUp(own: TensorMap) {
  const signer = new QuorumSigner({ id: OPERATOR.id, secretKey: OPERATOR.secretKey, publicKey: bytesToHex(OPERATOR.publicKey) }, BACKEND);
  const base = inferenceRequest({ expiration: Math.floor(NOW_MS / 1000) + 3600 });
  const runRequestId = quorumRunRequestId(base.requestId, BACKEND);
  const ownBytes = encodeTensors(own);
  signer.remember(
    runRequestId,
    { modelSha256: base.modelSha256, inputHash: base.inputHash, outputHash: await sha256(ownBytes), outputBytes: ownBytes },
    NOW_MS,
  );
  const ask = async (
    reference: TensorMap,
    change: Partial<InferenceAttestationRequest> = {},
    body: Partial<QuorumSignRequest> = {},
    nowMs = NOW_MS,
  ) => {
    const bytes = encodeTensors(reference);
    const request = { ...base, outputHash: await sha256(bytes), ...change };
    const json: QuorumSignRequest = { request, runRequestId, referenceOutputs: Buffer.from(bytes).toString('base64'), ...body };
    const text = new TextEncoder().encode(JSON.stringify(json));
    return { request, reply: () => signer.sign({ requestId: request.requestId, subject: request.modelSha256, body: text, bodySha256: '0x' }, nowMs) };
  };
  return { signer, ask };
}

function refusedWith(code: string) {
  return (err: unknown) => err instanceof ProofgateError && err.code === code;
}

describe('a backend signing for its operator (phase 2)', () => {
  it('signs the digest over its own output with the operator key', async () => {
    const own = { y: float32([1, 2]) };
    const { ask } = await setUp(own);
    const { request, reply } = await ask(own, {}, { referenceOutputs: undefined });
    const signed = reply();
    assert.equal(signed.operatorId, OPERATOR.id);
    assert.equal(signed.digest, computeInferenceDigest(request));
    assert.ok(verifySignature(OPERATOR.publicKey, hexToBytes(signed.digest), hexToBytes(signed.signature)));
  });

  it('signs a reference within the stated tolerance, and refuses one beyond it', async () => {
    const { ask } = await setUp({ y: float32([1, 2]) });
    const near = await ask({ y: float32([1.0005, 2]) });
    assert.ok(verifySignature(OPERATOR.publicKey, hexToBytes(computeInferenceDigest(near.request)), hexToBytes(near.reply().signature)));
    const far = await ask({ y: float32([1.5, 2]) });
    assert.throws(far.reply, refusedWith('outputs_disagree'));
    const exact = await ask({ y: float32([1.0005, 2]) }, { tolerance: { absolute: 0, relative: 0 } });
    assert.throws(exact.reply, refusedWith('outputs_disagree'));
  });

  it('refuses a reference that is not what the output hash names, or none at all for another output', async () => {
    const { ask } = await setUp({ y: float32([1, 2]) });
    const forged = await ask({ y: float32([1.0005, 2]) }, { outputHash: await outputHash({ y: float32([7, 7]) }) });
    assert.throws(forged.reply, refusedWith('reference_mismatch'));
    const withoutBytes = await ask({ y: float32([1.0005, 2]) }, {}, { referenceOutputs: undefined });
    assert.throws(withoutBytes.reply, refusedWith('outputs_disagree'));
  });

  it('signs only for its own recent run of that request, model and input, with a sane expiration', async () => {
    const own = { y: float32([1, 2]) };
    const { ask } = await setUp(own);
    assert.throws((await ask(own, {}, { runRequestId: `0x${'99'.repeat(32)}` })).reply, refusedWith('not_this_run'));
    const other = await ask(own, { requestId: `0x${'77'.repeat(32)}` });
    assert.throws(other.reply, refusedWith('not_this_run'), 'a run id is bound to its quorum request');
    assert.throws((await ask(own, { inputHash: `0x${'66'.repeat(32)}` })).reply, refusedWith('run_mismatch'));
    assert.throws((await ask(own, { expiration: Math.floor(NOW_MS / 1000) + 3 * 86_400 })).reply, refusedWith('invalid_expiration'));
    assert.throws((await ask(own, { expiration: Math.floor(NOW_MS / 1000) - 1 })).reply, refusedWith('invalid_expiration'));
    assert.throws((await ask(own, {}, {}, NOW_MS + 61_000)).reply, refusedWith('run_unknown'), 'runs are kept a minute');
  });
});

describe("a backend's attachment to its operator", () => {
  it('is the operator key signing the backend address, URL and time; moved to another backend or URL it fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pg-operator-key-'));
    const keyFile = join(dir, 'operator.bls.key');
    await writeFile(keyFile, `${bytesToHex(OPERATOR.secretKey)}\n`);
    const operator = loadBackendOperator(keyFile, OPERATOR.id);
    assert.equal(operator.publicKey, bytesToHex(OPERATOR.publicKey));
    const fields = { backend: BACKEND, url: 'http://127.0.0.1:9000', issuedAt: 1_800_000_000 };
    const attachment = operatorAttachment(operator, fields);
    const check = (f: typeof fields, id = OPERATOR.id) =>
      verifySignature(hexToBytes(attachment.blsPublicKey), operatorAttachmentMessage({ operatorId: id, ...f }), hexToBytes(attachment.signature));
    assert.ok(check(fields));
    assert.ok(!check({ ...fields, backend: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC' }));
    assert.ok(!check({ ...fields, url: 'http://127.0.0.1:9001' }));
    assert.ok(!check({ ...fields, issuedAt: fields.issuedAt + 1 }));
    assert.ok(!check(fields, 'operator-2'));
    assert.throws(() => loadBackendOperator(join(dir, 'missing.key'), OPERATOR.id), /cannot be read/);
    assert.throws(() => loadBackendOperator(keyFile, 'not an id'), /operator id/);
  });
});
