import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { receiptTypedData, verifyReceipt, type InferenceReceipt, type ReceiptFields } from '../../../core/receipts';
import { encodeTensors, hashTensors, tensorMapFromJson, tensorMapToJson } from '../../../core/tensors';

// Two fixed dev keys (anvil's first accounts): real secp256k1 signatures, reproducible test data.
const backend = privateKeyToAccount('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80');
const other = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a84412f4603b6b78690');

const inputs = { x: { type: 'float32', dims: [1, 3], data: [0.5, -1, 'NaN'] }, n: { type: 'int64', dims: [], data: ['9007199254740993'] } };
const outputs = { y: { type: 'float32', dims: [2], data: [1.25, 2] } };

async function makeReceipt(signer = backend): Promise<InferenceReceipt> {
  const fields: ReceiptFields = {
    requestId: `0x${'11'.repeat(32)}`,
    modelSha256: `0x${'22'.repeat(32)}`,
    inputHash: await hashTensors(tensorMapFromJson(inputs)),
    outputHash: await hashTensors(tensorMapFromJson(outputs)),
    backend: backend.address,
    executionProvider: 'cpu',
    issuedAt: 1_790_000_000,
  };
  const signature = await signer.signTypedData(receiptTypedData(fields));
  return { ...fields, model: 'm', version: 1, timings: { queueMs: 0, runMs: 1, totalMs: 1 }, signature };
}

function flipHexDigit(h: Hex, at: number): Hex {
  const i = 2 + at;
  const d = h[i] === '0' ? '1' : '0';
  return `${h.slice(0, i)}${d}${h.slice(i + 1)}` as Hex;
}

describe('verifyReceipt', () => {
  it('accepts a receipt with its inputs and outputs, as JSON, tensors or canonical bytes', async () => {
    const r = await makeReceipt();
    const ok = await verifyReceipt(r, { inputs, outputs, trustedBackends: [backend.address], modelSha256: r.modelSha256 });
    assert.deepEqual(ok, { valid: true, signer: backend.address, reasons: [] });
    const asTensors = tensorMapFromJson(outputs);
    assert.equal((await verifyReceipt(r, { inputs: encodeTensors(tensorMapFromJson(inputs)), outputs: asTensors })).valid, true);
    assert.equal((await verifyReceipt(r, { outputs: tensorMapToJson(asTensors) })).valid, true);
  });

  describe('fails when any signed field or any signature byte changes', () => {
    const fields: [string, (r: InferenceReceipt) => InferenceReceipt][] = [
      ['requestId', (r) => ({ ...r, requestId: flipHexDigit(r.requestId, 5) })],
      ['modelSha256', (r) => ({ ...r, modelSha256: flipHexDigit(r.modelSha256, 63) })],
      ['inputHash', (r) => ({ ...r, inputHash: flipHexDigit(r.inputHash, 0) })],
      ['outputHash', (r) => ({ ...r, outputHash: flipHexDigit(r.outputHash, 31) })],
      ['backend', (r) => ({ ...r, backend: other.address })],
      ['executionProvider', (r) => ({ ...r, executionProvider: 'cuda' })],
      ['issuedAt', (r) => ({ ...r, issuedAt: r.issuedAt + 1 })],
    ];
    for (const [field, tamper] of fields) {
      it(`a changed ${field}`, async () => {
        assert.equal((await verifyReceipt(tamper(await makeReceipt()))).valid, false);
      });
    }

    it('a changed signature digit, at every 7th position', async () => {
      const r = await makeReceipt();
      for (let i = 0; i < 130; i += 7)
        assert.equal((await verifyReceipt({ ...r, signature: flipHexDigit(r.signature, i) })).valid, false, `digit ${i}`);
    });
  });

  it('fails when any byte of the inputs or outputs changes', async () => {
    const r = await makeReceipt();
    const inBytes = encodeTensors(tensorMapFromJson(inputs));
    const outBytes = encodeTensors(tensorMapFromJson(outputs));
    for (let i = 0; i < inBytes.length; i++) {
      const b = inBytes.slice();
      b[i]! ^= 0x01;
      assert.equal((await verifyReceipt(r, { inputs: b })).valid, false, `input byte ${i}`);
    }
    for (let i = 0; i < outBytes.length; i++) {
      const b = outBytes.slice();
      b[i]! ^= 0x80;
      assert.equal((await verifyReceipt(r, { outputs: b })).valid, false, `output byte ${i}`);
    }
    const v = await verifyReceipt(r, { outputs: { y: { type: 'float32', dims: [2], data: [1.25, 2.0000002] } } });
    assert.deepEqual(v.reasons, ['output_hash_mismatch']);
  });

  it('names the signer and refuses untrusted or mismatched keys', async () => {
    const forged = await makeReceipt(other);
    const v = await verifyReceipt(forged);
    assert.equal(v.valid, false);
    assert.equal(v.signer, other.address);
    assert.deepEqual(v.reasons, ['signer_mismatch']);
    const honest = await makeReceipt();
    assert.deepEqual((await verifyReceipt(honest, { trustedBackends: [other.address] })).reasons, ['untrusted_backend']);
    assert.deepEqual((await verifyReceipt({ ...honest, signature: '0x1234' })).reasons, ['invalid_signature']);
  });
});
