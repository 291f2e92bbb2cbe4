import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProofgateError } from '../../../core/errors';
import type { InferenceReceipt } from '../../../core/receipts';
import { tensorFromJson } from '../../../core/tensors';
import { toErrorResponse } from '../../../workers/http/problem';
import type { ModelVersion } from '../../../workers/hub/model-store';
import { kserveReply, toKserveError } from '../../../workers/inference/kserve/reply';
import { readReplyHeader } from '../../../workers/inference/reply-format';

// Writing the Open Inference Protocol's inference response and error objects.

const model = {
  name: 'm',
  version: 3,
  sha256: `0x${'ab'.repeat(32)}`,
  outputs: [
    { name: 'y', type: 'float32', dims: [null] },
    { name: 'z', type: 'int64', dims: [2] },
  ],
} as unknown as ModelVersion;
const receipt = { requestId: `0x${'01'.repeat(32)}`, outputHash: `0x${'02'.repeat(32)}` } as unknown as InferenceReceipt;
const outputs = {
  z: tensorFromJson('z', { type: 'int64', dims: [2], data: ['9007199254740993', -1] }),
  y: tensorFromJson('y', { type: 'float32', dims: [4], data: [1.5, 'NaN', '-0', 'Infinity'] }),
};

describe('Open Inference Protocol answers', () => {
  it('writes outputs in the model order, losslessly, with the receipt in parameters and headers', async () => {
    const res = kserveReply({ model, outputs, receipt, request: { id: 'r1', outputs: null, binaryOutputs: false } });
    assert.equal(res.headers.get('content-type'), 'application/json');
    const body = (await res.json()) as any;
    assert.deepEqual(body, {
      model_name: 'm',
      model_version: '3',
      id: 'r1',
      parameters: { proofgate_receipt: JSON.stringify(receipt), proofgate_model_sha256: model.sha256 },
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [4], data: [1.5, 'NaN', '-0', 'Infinity'] },
        { name: 'z', datatype: 'INT64', shape: [2], data: ['9007199254740993', -1] },
      ],
    });
    assert.deepEqual(readReplyHeader(res.headers.get('proofgate-receipt')), receipt);
  });

  it('writes the outputs asked for as binary data after the JSON, and the payment of a paid call', async () => {
    const payment = { id: 'pay_1', state: 'settled' };
    const res = kserveReply({
      model,
      outputs,
      receipt,
      payment,
      request: { id: undefined, outputs: [{ name: 'z', binary: true }], binaryOutputs: false },
      headers: { 'payment-response': 'abc', 'content-length': '999' },
    });
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('payment-response'), 'abc');
    const raw = new Uint8Array(await res.arrayBuffer());
    const jsonLength = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(new TextDecoder().decode(raw.subarray(0, jsonLength)));
    assert.equal(head.id, undefined);
    assert.deepEqual(JSON.parse(head.parameters.proofgate_payment), payment);
    assert.deepEqual(readReplyHeader(res.headers.get('proofgate-payment')), payment);
    assert.deepEqual(head.outputs, [{ name: 'z', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } }]);
    assert.deepEqual(raw.subarray(jsonLength), outputs.z.data);
  });

  describe("rewrites Proofgate's error bodies and x402's 402 as the protocol error object, keeping the headers", () => {
    it('a Proofgate error, with its Retry-After', async () => {
      const fromError = await toKserveError(toErrorResponse(new ProofgateError('no_backend_available', 'none', 503, { retryAfterSeconds: 5 })));
      assert.equal(fromError.status, 503);
      assert.equal(fromError.headers.get('retry-after'), '5');
      assert.deepEqual(await fromError.json(), { error: 'none', code: 'no_backend_available', retryAfterSeconds: 5 });
    });

    it("x402's 402, with its PAYMENT-REQUIRED header", async () => {
      const x402 = new Response(JSON.stringify({ x402Version: 2, error: 'payment_required', message: 'this call costs 1', accepts: [] }), {
        status: 402,
        headers: { 'payment-required': 'e30=', 'content-type': 'application/json' },
      });
      const fromX402 = await toKserveError(x402);
      assert.equal(fromX402.status, 402);
      assert.equal(fromX402.headers.get('payment-required'), 'e30=');
      assert.deepEqual(await fromX402.json(), { error: 'this call costs 1', code: 'payment_required' });
    });

    it('an internal error, without its text', async () => {
      const internal = await toKserveError(toErrorResponse(new Error('secret database text')));
      assert.equal(internal.status, 500);
      assert.deepEqual(await internal.json(), { error: 'internal error', code: 'internal_error' });
    });
  });
});
