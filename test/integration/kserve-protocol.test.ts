import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from '@x402/core/http';
import { generatePaymentId } from '@x402/extensions/payment-identifier';
import { verifyReceipt } from '../../core/receipts';
import type { LocalStackFile } from '../../local-stack/stack-file';
import {
  DATATYPE_SIZES,
  type InferenceResponse,
  OpenInferenceClient,
  ProtocolError,
  type RequestInput,
  canonicalEncoding,
  flatten,
  outputBytes,
  toBinary,
  type FixedDatatype,
} from '../support/open-inference-client';
import { PAID_PRICE, sharedStack } from '../support/test-stack';
import { balances, fundedPayer, officialClient } from '../support/x402-payer';

// The Open Inference Protocol (KServe v2 REST) against the real Worker, driven by a client written
// from the protocol's documents (test/support/open-inference-client.ts), which knows nothing of
// Proofgate but the receipt in the response's parameters and the canonical encoding README gives.

let stack: LocalStackFile;
let client: OpenInferenceClient;
before(async () => {
  stack = await sharedStack();
  client = new OpenInferenceClient(stack.gateway);
});

const a: RequestInput = { name: 'a', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] };
const b: RequestInput = { name: 'b', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] };

// The canonical encoding of the tensors a request sent or a response returned, for the receipt's hashes.
function canonical(tensors: readonly (RequestInput | InferenceResponse['outputs'][number])[]): Uint8Array {
  return canonicalEncoding(
    tensors.map((t) => ({
      name: t.name,
      datatype: t.datatype,
      shape: t.shape,
      bytes: 'bytes' in t && t.bytes ? t.bytes : toBinary(t.datatype as FixedDatatype, flatten(t.data ?? [])),
    })),
  );
}

function receiptOf(response: InferenceResponse): any {
  const text = response.parameters?.['proofgate_receipt'];
  assert.equal(typeof text, 'string', 'the receipt is in parameters.proofgate_receipt, as JSON text');
  return JSON.parse(text as string);
}

// The receipt header of a response: base64url JSON.
function receiptHeader(headers: Headers): any {
  const value = headers.get('proofgate-receipt');
  assert.ok(value, 'the receipt is in the proofgate-receipt header');
  return JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
}

async function expectProtocolError(call: Promise<unknown>, status: number, code: string): Promise<ProtocolError> {
  const err = await call.then(
    () => assert.fail(`expected ${status} ${code}, the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ProtocolError, `expected the protocol's error object, got ${String(err)}`);
  assert.equal(err.status, status, JSON.stringify(err.body));
  assert.equal(typeof err.body.error, 'string', 'the error object has a descriptive "error" string');
  assert.equal(err.body['code'], code);
  return err;
}

describe('Open Inference Protocol: health and metadata', () => {
  it('is live and ready, and describes itself', async () => {
    assert.equal(await client.live(), true);
    assert.equal(await client.ready(), true);
    const server = await client.serverMetadata();
    assert.equal(server.name, 'proofgate');
    assert.match(server.version, /^\d+\.\d+\.\d+/);
    assert.ok(server.extensions.includes('binary_tensor_data'));
  });

  it('describes a model in the protocol datatypes, fixed and variable dims, with versions as strings', async () => {
    const meta = await client.modelMetadata('tiny-add');
    assert.deepEqual(meta, {
      name: 'tiny-add',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 4] },
        { name: 'b', datatype: 'FP32', shape: [1, 4] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: [1, 4] },
        { name: 'product', datatype: 'FP32', shape: [1, 4] },
      ],
    });
    assert.deepEqual(await client.modelMetadata('tiny-add', '1'), meta);
    const types = await client.modelMetadata('tiny-types');
    assert.deepEqual(
      types.inputs.map((i) => i.datatype).sort(),
      Object.keys(DATATYPE_SIZES)
        .filter((d) => d !== 'FP64')
        .sort(),
    );
    assert.ok(
      types.inputs.every((i) => i.shape.length === 1 && i.shape[0] === -1),
      'a symbolic dim is -1',
    );
    const det = await client.modelMetadata('ppocr-det');
    assert.equal(det.inputs.length, 1);
    assert.equal(det.inputs[0]!.datatype, 'FP32');
    assert.deepEqual(
      det.inputs[0]!.shape.map((d) => d === -1 || d > 0),
      [true, true, true, true],
    );
    assert.ok(det.inputs[0]!.shape.includes(-1));
  });

  it('says a model is ready, with or without a version, and 404s for one it does not have', async () => {
    assert.deepEqual(await client.modelReady('tiny-add'), { status: 200, body: { name: 'tiny-add', ready: true } });
    assert.equal((await client.modelReady('tiny-add', '1')).status, 200);
    const missing = await client.modelReady('no-such-model');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'model_not_found');
    assert.equal((await client.modelReady('tiny-add', '99')).status, 404);
  });

  it('answers unknown models, versions and routes with the protocol error object', async () => {
    await expectProtocolError(client.modelMetadata('no-such-model'), 404, 'model_not_found');
    await expectProtocolError(client.modelMetadata('tiny-add', '99'), 404, 'model_not_found');
    await expectProtocolError(client.modelMetadata('tiny-add', 'v1'), 400, 'invalid_version');
    const res = await fetch(`${stack.gateway}/v2/repository/index`, { method: 'POST' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as any).code, 'not_found');
  });
});

describe('Open Inference Protocol: inference', () => {
  it('runs tiny-add, echoes the id, and returns a receipt that verifies against what the client sent and got', async () => {
    const { response, headers } = await client.infer('tiny-add', { id: 'req-42', inputs: [a, b] });
    assert.equal(response.model_name, 'tiny-add');
    assert.equal(response.model_version, '1');
    assert.equal(response.id, 'req-42');
    assert.deepEqual(
      response.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape, data: o.data })),
      [
        { name: 'sum', datatype: 'FP32', shape: [1, 4], data: [2, 3, 4, 5] },
        { name: 'product', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] },
      ],
    );
    const receipt = receiptOf(response);
    assert.deepEqual(receiptHeader(headers), receipt);
    assert.equal(response.parameters?.['proofgate_model_sha256'], receipt.modelSha256);
    const verdict = await verifyReceipt(receipt, { inputs: canonical([a, b]), outputs: canonical(response.outputs) });
    assert.deepEqual(verdict.reasons, []);
    assert.equal(verdict.valid, true);
    // One changed output element and the receipt no longer covers the outputs.
    const tampered = response.outputs.map((o) => (o.name === 'sum' ? { ...o, data: [2, 3, 4, 6] } : o));
    assert.deepEqual((await verifyReceipt(receipt, { outputs: canonical(tampered) })).reasons, ['output_hash_mismatch']);
  });

  it('takes tensor data in its natural nested form as well as flat, and a version in the path', async () => {
    const nested = { ...b, data: [[1, 1, 1, 1]] };
    const { response } = await client.infer('tiny-add', { inputs: [{ ...a, data: [[1, 2, 3, 4]] }, nested] }, { version: '1' });
    assert.equal(response.model_version, '1');
    assert.equal(response.id, undefined, 'no id asked, none returned');
    assert.deepEqual(response.outputs.find((o) => o.name === 'sum')?.data, [2, 3, 4, 5]);
    assert.equal((await verifyReceipt(receiptOf(response), { inputs: canonical([a, b]), outputs: canonical(response.outputs) })).valid, true);
    await expectProtocolError(client.infer('tiny-add', { inputs: [a, b] }, { version: '99' }), 404, 'model_not_found');
  });

  it('returns only the outputs the request names', async () => {
    const { response } = await client.infer('tiny-add', { inputs: [a, b], outputs: [{ name: 'product' }] });
    assert.deepEqual(
      response.outputs.map((o) => [o.name, o.data]),
      [['product', [1, 2, 3, 4]]],
    );
    // The receipt still covers every output the model produced; its signature and inputs verify.
    const receipt = receiptOf(response);
    assert.equal((await verifyReceipt(receipt, { inputs: canonical([a, b]) })).valid, true);
  });

  it('carries all eleven datatypes exactly, as JSON and as binary tensor data', async () => {
    const meta = await client.modelMetadata('tiny-types');
    const values: Record<string, unknown[]> = {
      BOOL: [true, false, true],
      UINT8: [0, 7, 255],
      UINT16: [0, 1234, 65535],
      UINT32: [0, 123456789, 4294967295],
      UINT64: [0, '18446744073709551615', '9007199254740993'],
      INT8: [-128, 0, 127],
      INT16: [-32768, 5, 32767],
      INT32: [-2147483648, 6, 2147483647],
      INT64: ['-9223372036854775808', -1, '9223372036854775807'],
      FP16: [0.5, -2, 65504],
      FP32: [1.5, -0.25, 3.4028234663852886e38],
    };
    const inputs: RequestInput[] = meta.inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: [3], data: values[i.datatype]! }));
    const { response } = await client.infer('tiny-types', { inputs });
    const receipt = receiptOf(response);
    assert.equal((await verifyReceipt(receipt, { inputs: canonical(inputs), outputs: canonical(response.outputs) })).valid, true);
    for (const input of inputs) {
      const output = response.outputs.find((o) => o.name === input.name.replace(/^x_/, 'y_'))!;
      assert.equal(output.datatype, input.datatype);
      assert.deepEqual(outputBytes(output), toBinary(input.datatype as FixedDatatype, input.data!), `${input.datatype} round-trips`);
    }

    // The same call with every input and output as binary data after the JSON.
    const binary = await client.infer('tiny-types', {
      inputs: inputs.map((i) => ({ ...i, binary: true })),
      parameters: { binary_data_output: true },
    });
    assert.equal(binary.headers.get('content-type'), 'application/octet-stream');
    assert.ok(binary.response.outputs.every((o) => o.bytes && o.data === undefined));
    const again = receiptOf(binary.response);
    assert.equal(again.inputHash, receipt.inputHash, 'binary and JSON inputs are the same tensors');
    assert.equal(again.outputHash, receipt.outputHash);
    assert.equal((await verifyReceipt(again, { outputs: canonical(binary.response.outputs) })).valid, true);
    // Binary for one output only: the rest stay JSON.
    const one = await client.infer('tiny-types', {
      inputs,
      outputs: [{ name: 'y_float16', parameters: { binary_data: true } }, { name: 'y_int64' }],
    });
    assert.deepEqual(
      one.response.outputs.map((o) => [o.name, o.bytes !== undefined]),
      [
        ['y_float16', true],
        ['y_int64', false],
      ],
    );
    assert.deepEqual(one.response.outputs[1]!.data, values['INT64']);
  });

  it('runs ppocr-det on an image-shaped input, with a receipt that verifies', async () => {
    const meta = await client.modelMetadata('ppocr-det');
    const input = meta.inputs[0]!;
    const shape = input.shape.map((d, i) => (d !== -1 ? d : i === 0 ? 1 : 32));
    const count = shape.reduce((x, y) => x * y, 1);
    const image: RequestInput = {
      name: input.name,
      datatype: 'FP32',
      shape,
      data: Array.from({ length: count }, (_, i) => ((i * 37) % 255) / 255 - 0.5),
    };
    const { response } = await client.infer('ppocr-det', { inputs: [image] });
    assert.equal(response.outputs.length, meta.outputs.length);
    const out = response.outputs[0]!;
    assert.equal(out.datatype, 'FP32');
    assert.equal(
      out.data!.length,
      out.shape.reduce((x, y) => x * y, 1),
    );
    assert.equal((await verifyReceipt(receiptOf(response), { inputs: canonical([image]), outputs: canonical(response.outputs) })).valid, true);
  });

  describe('refuses bad requests with a 4xx and the protocol error object, never a 5xx', () => {
    const requests: [string, () => Promise<unknown>, number, string][] = [
      ['an unknown model', () => client.infer('no-such-model', { inputs: [a, b] }), 404, 'model_not_found'],
      ['a datatype spelt FLOAT32', () => client.infer('tiny-add', { inputs: [{ ...a, datatype: 'FLOAT32' }, b] }), 400, 'invalid_datatype'],
      ['a datatype in lower case', () => client.infer('tiny-add', { inputs: [{ ...a, datatype: 'fp32' }, b] }), 400, 'invalid_datatype'],
      [
        'BYTES',
        () => client.infer('tiny-add', { inputs: [{ ...a, datatype: 'BYTES', data: ['x', 'y', 'z', 'w'] }, b] }),
        400,
        'unsupported_datatype',
      ],
      ["a datatype other than the model's", () => client.infer('tiny-add', { inputs: [{ ...a, datatype: 'INT32' }, b] }), 400, 'type_mismatch'],
      ['too few elements', () => client.infer('tiny-add', { inputs: [{ ...a, data: [1, 2, 3] }, b] }), 400, 'invalid_tensor'],
      ['too many elements', () => client.infer('tiny-add', { inputs: [{ ...a, data: [1, 2, 3, 4, 5] }, b] }), 400, 'invalid_tensor'],
      [
        'data nested unlike the shape',
        () =>
          client.infer('tiny-add', {
            inputs: [
              {
                ...a,
                data: [
                  [1, 2],
                  [3, 4],
                ],
              },
              b,
            ],
          }),
        400,
        'invalid_tensor',
      ],
      ["a shape other than the model's", () => client.infer('tiny-add', { inputs: [{ ...a, shape: [4] }, b] }), 400, 'shape_mismatch'],
      ['a negative dimension', () => client.infer('tiny-add', { inputs: [{ ...a, shape: [1, -1] }, b] }), 400, 'invalid_tensor'],
      ['a missing input', () => client.infer('tiny-add', { inputs: [a] }), 400, 'missing_input'],
      ['an unknown input', () => client.infer('tiny-add', { inputs: [a, b, { ...a, name: 'c' }] }), 400, 'unknown_input'],
      ['an unknown output', () => client.infer('tiny-add', { inputs: [a, b], outputs: [{ name: 'difference' }] }), 400, 'unknown_output'],
      ['the version "latest"', () => client.infer('tiny-add', { inputs: [a, b] }, { version: 'latest' }), 400, 'invalid_version'],
    ];
    for (const [name, request, status, code] of requests) {
      it(`${name}: ${status} ${code}`, async () => {
        await expectProtocolError(request(), status, code);
      });
    }

    // Bodies no client of the protocol would send.
    for (const [body, code] of [
      ['{"inputs": [', 'invalid_json'],
      ['[1, 2]', 'invalid_request'],
      ['{"id": 42, "inputs": []}', 'invalid_request'],
      ['{"inputs": {"a": {}}}', 'invalid_request'],
    ] as const) {
      it(`the body ${body}: 400 ${code}`, async () => {
        const res = await fetch(`${stack.gateway}/v2/models/tiny-add/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        assert.equal(res.status, 400);
        const error = (await res.json()) as Record<string, unknown>;
        assert.deepEqual(Object.keys(error).sort(), ['code', 'error']);
        assert.equal(error['code'], code);
      });
    }

    it('a binary_data_size that disagrees with the shape: 400 invalid_tensor', async () => {
      const json = new TextEncoder().encode(JSON.stringify({ inputs: [{ ...a, data: undefined, parameters: { binary_data_size: 12 } }, b] }));
      const bad = await fetch(`${stack.gateway}/v2/models/tiny-add/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
        body: Buffer.concat([json, new Uint8Array(12)]),
      });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as any).code, 'invalid_tensor');
    });
  });
});

describe('Open Inference Protocol: a priced model', () => {
  const price = BigInt(PAID_PRICE);

  it('answers 402 with the x402 requirements, whatever the path, and is paid by the official x402 client', async () => {
    for (const version of [undefined, '1']) {
      const err = await expectProtocolError(client.infer('paid-add', { inputs: [a, b] }, version ? { version } : {}), 402, 'payment_required');
      const required = decodePaymentRequiredHeader(err.headers.get('payment-required')!);
      assert.equal(required.accepts[0]!.amount, PAID_PRICE);
      assert.equal(required.accepts[0]!.network, `eip155:${stack.chain!.chainId}`);
    }

    const payer = await fundedPayer(stack, price);
    const balanceOf = balances(stack);
    const payToBefore = await balanceOf(stack.chain!.payTo);
    const paying = new OpenInferenceClient(stack.gateway, officialClient(stack, payer));
    const { response, headers } = await paying.infer('paid-add', { id: 'paid-1', inputs: [a, b] });
    assert.equal(response.id, 'paid-1');
    const settlement = decodePaymentResponseHeader(headers.get('payment-response')!);
    assert.equal(settlement.success, true);
    const payment = JSON.parse(response.parameters?.['proofgate_payment'] as string);
    assert.equal(payment.state, 'settled');
    assert.equal(payment.charged, PAID_PRICE);
    assert.equal(payment.transaction, settlement.transaction);
    assert.deepEqual(JSON.parse(Buffer.from(headers.get('proofgate-payment')!, 'base64url').toString('utf8')), payment);
    const receipt = receiptOf(response);
    assert.equal((await verifyReceipt(receipt, { inputs: canonical([a, b]), outputs: canonical(response.outputs) })).valid, true);
    assert.equal(await balanceOf(payer.address), 0n);
    assert.equal(await balanceOf(stack.chain!.payTo), payToBefore + price);
  });

  it('answers a payment-identifier retry with the first result, in the protocol form, charged once', async () => {
    const payer = await fundedPayer(stack, 2n * price);
    const balanceOf = balances(stack);
    const paying = new OpenInferenceClient(stack.gateway, officialClient(stack, payer, { paymentId: generatePaymentId() }));
    const first = await paying.infer('paid-add', { inputs: [a, b] });
    const retry = await paying.infer('paid-add', { inputs: [a, b] });
    assert.equal(retry.headers.get('proofgate-replayed'), 'true');
    assert.deepEqual(receiptOf(retry.response), receiptOf(first.response));
    assert.deepEqual(retry.response.outputs, first.response.outputs);
    assert.equal(JSON.parse(retry.response.parameters?.['proofgate_payment'] as string).state, 'settled');
    assert.equal(await balanceOf(payer.address), price);
  });
});
