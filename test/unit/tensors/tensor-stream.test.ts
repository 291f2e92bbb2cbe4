import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidRequestError, ProofgateError } from '../../../core/errors';
import {
  InvalidTensorError,
  decodeTensors,
  encodeTensors,
  readJsonTensorBody,
  readTensorStream,
  tensorMapFromJson,
  tensorMapToJson,
  tensorHeaderBytes,
  tensorMapToJsonText,
  type TensorHeader,
} from '../../../core/tensors';
import { pollUntil } from '../../support/poll';

const every = {
  f32: { type: 'float32', dims: [2, 3], data: [1.5, '-0', 'NaN', '-Infinity', '-NaN', 'NaN:0x7f800001'] },
  f16: { type: 'float16', dims: [3], data: [65504, 'Infinity', '-0'] },
  i8: { type: 'int8', dims: [2], data: [-128, 127] },
  u8: { type: 'uint8', dims: [2], data: [0, 255] },
  i16: { type: 'int16', dims: [1], data: [-32768] },
  u16: { type: 'uint16', dims: [1], data: [65535] },
  i32: { type: 'int32', dims: [2], data: [-2147483648, 2147483647] },
  u32: { type: 'uint32', dims: [1], data: [4294967295] },
  i64: { type: 'int64', dims: [3], data: ['-9223372036854775808', '9223372036854775807', 42] },
  u64: { type: 'uint64', dims: [2], data: ['18446744073709551615', 0] },
  b: { type: 'bool', dims: [], data: [true] },
  plain: { type: 'float32', dims: [4], data: [0.1, 1e-7, 3.4e38, -2.5] },
};
const utf8 = new TextEncoder();

// A stream the test feeds by hand; it never closes unless told to.
function manualStream(): { stream: ReadableStream<Uint8Array>; push: (b: Uint8Array) => void; close: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
  });
  return { stream, push: (b) => controller.enqueue(b), close: () => controller.close() };
}

describe('streamed binary tensors', () => {
  it('sees each header before its data arrives and returns the encoding as sent', async () => {
    const bytes = encodeTensors(tensorMapFromJson(every));
    const { stream, push, close } = manualStream();
    const seen: TensorHeader[] = [];
    const reading = readTensorStream(stream, { maxBytes: bytes.length, onHeader: (h) => seen.push(h) });
    const first = decodeTensors(bytes); // to know where the first tensor's data starts
    const firstName = Object.keys(first)[0]!;
    const headerEnd = 4 + tensorHeaderBytes(utf8.encode(firstName).length, first[firstName]!.type, first[firstName]!.dims.length);
    push(bytes.slice(0, headerEnd));
    // Bounded wait for the reader to take the pushed header (a fixed pause can be too short on a loaded machine).
    await pollUntil(
      'the first header to be seen',
      () => seen.length,
      (n) => n > 0,
      { timeoutMs: 10_000, intervalMs: 5 },
    );
    assert.deepEqual(
      seen.map((h) => h.name),
      [firstName],
    );
    push(bytes.slice(headerEnd));
    close();
    assert.deepEqual(Buffer.from(await reading), Buffer.from(bytes));
    assert.equal(seen.length, Object.keys(every).length);
  });

  it('refuses a header declaring more than the cap while the rest of the body is still unsent', async () => {
    const head = new Uint8Array(4 + 4 + 1 + 1 + 7 + 4 + 16 + 8);
    const v = new DataView(head.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(4, 1, true);
    head[8] = 0x61;
    head[9] = 7;
    head.set(utf8.encode('float32'), 10);
    v.setUint32(17, 2, true);
    v.setBigUint64(21, 1n, true);
    v.setBigUint64(29, 2n ** 38n, true);
    v.setBigUint64(37, 2n ** 40n, true);
    const { stream, push } = manualStream();
    const reading = readTensorStream(stream, { maxBytes: 32 * 1024 * 1024, onHeader: () => {} });
    push(head); // and nothing more, ever
    await assert.rejects(reading, (e: unknown) => e instanceof ProofgateError && e.code === 'payload_too_large' && e.status === 413);
  });

  it('lets the header check refuse a tensor before its data is read', async () => {
    const bytes = encodeTensors(tensorMapFromJson({ a: every.f32 }));
    const { stream, push } = manualStream();
    const refusal = new InvalidRequestError('type_mismatch', 'no');
    const reading = readTensorStream(stream, {
      maxBytes: 1024,
      onHeader: () => {
        throw refusal;
      },
    });
    push(bytes.slice(0, bytes.length - 1)); // the last byte never comes
    await assert.rejects(reading, (e: unknown) => e === refusal);
  });

  it('refuses bodies over the cap, truncated bodies and trailing bytes', async () => {
    const bytes = encodeTensors(tensorMapFromJson({ a: every.i32 }));
    const read = (b: Uint8Array, maxBytes = 1024, sizeHint?: number) =>
      readTensorStream(new Blob([b]).stream(), { maxBytes, onHeader: () => {}, ...(sizeHint === undefined ? {} : { sizeHint }) });
    await assert.rejects(read(bytes, bytes.length - 1), (e: unknown) => e instanceof ProofgateError && e.status === 413);
    await assert.rejects(read(bytes, 1024, 4096), (e: unknown) => e instanceof ProofgateError && e.status === 413, 'declared length over the cap');
    await assert.rejects(read(bytes.slice(0, -1)), InvalidTensorError);
    await assert.rejects(read(new Uint8Array([...bytes, 0])), InvalidTensorError);
    await assert.rejects(read(new Uint8Array()), InvalidTensorError);
  });
});

describe('JSON tensor bodies', () => {
  it('read into the same canonical bytes as JSON.parse and tensorFromJson, in any member order', () => {
    const expected = encodeTensors(tensorMapFromJson(every));
    const text = JSON.stringify({ before: [1, { x: 'y' }], inputs: every, after: null });
    assert.deepEqual(Buffer.from(readJsonTensorBody(utf8.encode(text), 'inputs', () => {})), Buffer.from(expected));
    const reordered = `{"inputs":{${Object.entries(every)
      .reverse()
      .map(([n, t]) => `${JSON.stringify(n)}:{"data":${JSON.stringify(t.data)},"dims":${JSON.stringify(t.dims)},"type":"${t.type}"}`)
      .join(',')}}}`;
    assert.deepEqual(Buffer.from(readJsonTensorBody(utf8.encode(reordered), 'inputs', () => {})), Buffer.from(expected));
  });

  it('checks each header before the data is converted', () => {
    const refusal = new InvalidRequestError('shape_mismatch', 'no');
    const body = utf8.encode('{"inputs":{"x":{"type":"float32","dims":[1,2],"data":[1,"not a number"]}}}');
    assert.throws(
      () =>
        readJsonTensorBody(body, 'inputs', () => {
          throw refusal;
        }),
      (e: unknown) => e === refusal,
    );
    const seen: TensorHeader[] = [];
    readJsonTensorBody(utf8.encode('{"inputs":{"x":{"data":[1,2],"type":"int8","dims":[2]}}}'), 'inputs', (h) => seen.push(h));
    assert.deepEqual(seen, [{ name: 'x', type: 'int8', dims: [2], byteLength: 2 }]);
  });

  describe('answers malformed bodies with invalid_json, invalid_request or invalid_tensor', () => {
    const cases: [string, string][] = [
      ['{"inputs": {', 'invalid_json'],
      ['[1,2]', 'invalid_request'],
      ['{"other": 1}', 'invalid_request'],
      ['{"inputs": {"x": {"type":"float32","dims":[2],"data":[1]}}}', 'invalid_tensor'],
      ['{"inputs": {"x": {"type":"float32","dims":[1],"data":[1,2]}}}', 'invalid_tensor'],
      ['{"inputs": {"x": {"type":"complex","dims":[1],"data":[1]}}}', 'invalid_tensor'],
      ['{"inputs": {"x": {"type":"float32","dims":[1],"data":[01]}}}', 'invalid_json'],
      ['{"inputs": {"x": {"type":"float32","dims":[1],"data":[1]}}} x', 'invalid_json'],
      ['{"inputs": {"x": {"type":"float32","dims":[1],"data":[[1]]}}}', 'invalid_tensor'],
      ['{"inputs": {"x": {"type":"float32","dims":[1],"data":[1]}, "x": {"type":"float32","dims":[1],"data":[1]}}}', 'invalid_tensor'],
      [`{"inputs": ${'['.repeat(100)}`, 'invalid_tensor'],
      [`{"other": ${'['.repeat(100)}${']'.repeat(100)}}`, 'invalid_json'],
    ];
    for (const [body, code] of cases) {
      it(`${body.slice(0, 60)}: ${code}`, () => {
        assert.throws(
          () => readJsonTensorBody(utf8.encode(body), 'inputs', () => {}),
          (e: unknown) => e instanceof ProofgateError && e.code === code && e.status === 400,
        );
      });
    }
  });

  it('writes outputs as JSON text equal to JSON.stringify of the JSON form', () => {
    const tensors = decodeTensors(encodeTensors(tensorMapFromJson(every)));
    assert.equal(tensorMapToJsonText(tensors), JSON.stringify(tensorMapToJson(tensors)));
  });
});
