import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeTensors, tensorMapFromJson } from '../../../core/tensors';
import { encodeInputs, toTensor, toTypedTensor, toTypedTensors } from '../../../sdk/src/tensors';

describe('SDK tensors', () => {
  it('takes typed arrays, byte tensors and JSON tensors to the same canonical bytes', () => {
    const json = {
      x: { type: 'float32', dims: [2, 2], data: [1.5, -2, 0, 3.25] },
      n: { type: 'int64', dims: [2], data: ['9007199254740993', -4] },
      h: { type: 'float16', dims: [1], data: [0.5] },
      b: { type: 'bool', dims: [3], data: [true, false, true] },
    } as const;
    const canonical = encodeTensors(tensorMapFromJson(json));
    const typed = encodeInputs({
      x: { dims: [2, 2], data: new Float32Array([1.5, -2, 0, 3.25]) },
      n: { dims: [2], data: new BigInt64Array([9007199254740993n, -4n]) },
      h: { type: 'float16', dims: [1], data: new Uint16Array([0x3800]) },
      b: { type: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
    });
    assert.deepEqual(typed, canonical);
    assert.deepEqual(encodeInputs(json as never), canonical);
    assert.deepEqual(encodeInputs(tensorMapFromJson(json)), canonical);
  });

  it('reads the bytes of a typed array view, not of its whole buffer', () => {
    const buffer = new Float32Array([9, 1, 2, 9]);
    const view = new Float32Array(buffer.buffer, 4, 2);
    assert.deepEqual(toTensor('v', { dims: [2], data: view }).data, new Uint8Array(new Float32Array([1, 2]).buffer));
  });

  it('refuses a typed array that contradicts the type, the dims, or a bool that is not 0 or 1', () => {
    assert.throws(() => toTensor('x', { type: 'int32', dims: [1], data: new Float32Array([1]) }), /does not match/);
    assert.throws(() => toTensor('x', { dims: [3], data: new Float32Array([1, 2]) }), /needs 3 elements/);
    assert.throws(() => toTensor('x', { type: 'bool', dims: [1], data: new Uint8Array([2]) }), /0 or 1/);
    assert.throws(() => toTensor('x', { dims: [1], data: new Float64Array([1]) as never }), /unsupported array/);
  });

  it('gives outputs back as typed arrays, copied and aligned', () => {
    const bytes = encodeTensors({ y: { type: 'int64', dims: [2], data: new Uint8Array(new BigInt64Array([5n, -6n]).buffer) } });
    const odd = new Uint8Array(bytes.length + 1);
    odd.set(bytes, 1); // a decoded tensor may sit at an unaligned offset of a larger buffer
    const t = toTypedTensor({ type: 'int64', dims: [2], data: odd.subarray(odd.length - 16) });
    assert.ok(t.data instanceof BigInt64Array);
    assert.deepEqual([...t.data], [5n, -6n]);
    const all = toTypedTensors({ f: { type: 'float16', dims: [1], data: new Uint8Array([0x00, 0x38]) } });
    assert.ok(all['f']!.data instanceof Uint16Array);
    assert.equal(all['f']!.data[0], 0x3800);
  });
});
