import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTensorError, decodeTensors, encodeTensors, hashTensors, tensorFromJson } from '../../../core/tensors';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('canonical tensor encoding', () => {
  it('matches the specified byte layout', () => {
    const bytes = encodeTensors({ x: tensorFromJson('x', { type: 'uint8', dims: [2], data: [7, 9] }) });
    // count=1 | len("x")=1 "x" | len("uint8")=5 "uint8" | ndims=1 | dim=2 | len(bytes)=2 | 07 09
    assert.equal(
      hex(bytes),
      ['01000000', '01000000', '78', '05', Buffer.from('uint8').toString('hex'), '01000000', '0200000000000000', '0200000000000000', '0709'].join(''),
    );
  });

  it('orders tensors by the bytes of their UTF-8 names, whatever the object order', async () => {
    const a = tensorFromJson('a', { type: 'bool', dims: [], data: [true] });
    const z = tensorFromJson('z', { type: 'bool', dims: [], data: [false] });
    const e = tensorFromJson('é', { type: 'bool', dims: [], data: [false] });
    const astral = tensorFromJson('\u{1F600}', { type: 'bool', dims: [], data: [true] });
    const bmpHigh = tensorFromJson('\uFF21', { type: 'bool', dims: [], data: [true] });
    assert.deepEqual(encodeTensors({ z, a, é: e }), encodeTensors({ é: e, a, z }));
    // UTF-8 order puts U+FF21 (ef bc a1) before U+1F600 (f0 9f 98 80); UTF-16 order would not.
    const decoded = Object.keys(decodeTensors(encodeTensors({ '\u{1F600}': astral, '\uFF21': bmpHigh })));
    assert.deepEqual(decoded, ['\uFF21', '\u{1F600}']);
    assert.equal(await hashTensors({ z, a }), await hashTensors({ a, z }));
  });

  it('decodes what it encodes', () => {
    const tensors = {
      input: tensorFromJson('input', { type: 'float32', dims: [1, 3], data: [1, 2, 3] }),
      sr: tensorFromJson('sr', { type: 'int64', dims: [], data: [16000] }),
    };
    const decoded = decodeTensors(encodeTensors(tensors));
    assert.deepEqual(Object.keys(decoded), ['input', 'sr']);
    assert.deepEqual([...decoded['input']!.dims], [1, 3]);
    assert.deepEqual(decoded['sr']!.data, tensors.sr.data);
  });

  describe('rejects anything that is not canonical', () => {
    const one = encodeTensors({ x: tensorFromJson('x', { type: 'uint8', dims: [2], data: [7, 9] }) });
    const withTrailing = new Uint8Array([...one, 0]);
    const truncated = one.subarray(0, one.length - 1);
    const two = encodeTensors({
      a: tensorFromJson('a', { type: 'uint8', dims: [1], data: [1] }),
      b: tensorFromJson('b', { type: 'uint8', dims: [1], data: [2] }),
    });
    // Swap the two tensor records: same content, wrong order.
    const recLen = (two.length - 4) / 2;
    const swapped = new Uint8Array([...two.subarray(0, 4), ...two.subarray(4 + recLen), ...two.subarray(4, 4 + recLen)]);
    const wrongLen = one.slice();
    wrongLen[one.length - 10] = 3; // byte length 3 for uint8[2]
    const badType = one.slice();
    badType[10] = 'x'.charCodeAt(0); // "xint8"
    for (const [why, bytes] of Object.entries({ withTrailing, truncated, swapped, wrongLen, badType, empty: new Uint8Array() })) {
      it(why, () => {
        assert.throws(() => decodeTensors(bytes), InvalidTensorError);
      });
    }
  });
});
