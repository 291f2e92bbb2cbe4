import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidTensorError, fromFloat16Bits, tensorFromJson, tensorToJson, toFloat16Bits } from '../../../core/tensors';

describe('tensor JSON codec', () => {
  it('round-trips every type, with 64-bit integers as strings beyond 2^53 and non-finite floats as names', () => {
    const cases = [
      { type: 'float32', dims: [2, 3], data: [1.5, '-0', 'NaN', '-Infinity', '-NaN', 'NaN:0x7f800001'] },
      { type: 'float16', dims: [5], data: [65504, -(2 ** -24), 'Infinity', '-NaN', 'NaN:0xfc01'] },
      { type: 'int8', dims: [2], data: [-128, 127] },
      { type: 'uint8', dims: [2], data: [0, 255] },
      { type: 'int16', dims: [2], data: [-32768, 32767] },
      { type: 'uint16', dims: [1], data: [65535] },
      { type: 'int32', dims: [2], data: [-2147483648, 2147483647] },
      { type: 'uint32', dims: [1], data: [4294967295] },
      { type: 'int64', dims: [3], data: ['-9223372036854775808', '9223372036854775807', 42] },
      { type: 'uint64', dims: [2], data: ['18446744073709551615', 0] },
      { type: 'bool', dims: [2], data: [true, false] },
      { type: 'float32', dims: [], data: [3] },
    ] as const;
    for (const c of cases) {
      const t = tensorFromJson('x', c);
      assert.deepEqual(tensorToJson(t), { type: c.type, dims: [...c.dims], data: [...c.data] }, c.type);
    }
  });

  it('accepts 64-bit integers as numbers or decimal strings, and returns safe ones as numbers', () => {
    const t = tensorFromJson('x', { type: 'int64', dims: [2], data: ['12', 7] });
    assert.deepEqual(tensorToJson(t).data, [12, 7]);
  });

  it('carries the sign of zero and every NaN bit pattern', () => {
    const t = tensorFromJson('x', { type: 'float32', dims: [4], data: [-0, '-0', '-NaN', 'NaN:0xffa00000'] });
    assert.deepEqual(
      [...new Uint32Array(t.data.buffer)].map((b) => b.toString(16)),
      ['80000000', '80000000', 'ffc00000', 'ffa00000'],
    );
    for (const bad of ['NaN:0x7f800000', 'NaN:0x1', 'nan', '-nan', 'NaN:0X7FC00001']) {
      assert.throws(() => tensorFromJson('x', { type: 'float32', dims: [1], data: [bad] }), InvalidTensorError, bad);
    }
  });

  it('stores little-endian bytes', () => {
    const t = tensorFromJson('x', { type: 'int32', dims: [1], data: [0x01020304] });
    assert.deepEqual([...t.data], [4, 3, 2, 1]);
  });

  describe('rejects malformed tensors with invalid_tensor', () => {
    const bad: unknown[] = [
      null,
      [],
      { type: 'float64', dims: [1], data: [1] },
      { type: 'float32', dims: [2], data: [1] },
      { type: 'float32', dims: [-1], data: [] },
      { type: 'float32', dims: [1.5], data: [1] },
      { type: 'float32', dims: [1], data: ['one'] },
      { type: 'float32', dims: [1], data: [1e39] },
      { type: 'int8', dims: [1], data: [128] },
      { type: 'uint8', dims: [1], data: [-1] },
      { type: 'int32', dims: [1], data: [1.5] },
      { type: 'int64', dims: [1], data: [2 ** 60] },
      { type: 'int64', dims: [1], data: ['9223372036854775808'] },
      { type: 'uint64', dims: [1], data: ['-1'] },
      { type: 'bool', dims: [1], data: ['true'] },
      { type: 'float32', dims: [1], data: 'x' },
    ];
    for (const b of bad) {
      it(JSON.stringify(b), () => {
        assert.throws(
          () => tensorFromJson('x', b),
          (e: unknown) => e instanceof InvalidTensorError && e.code === 'invalid_tensor' && e.status === 400,
        );
      });
    }
  });
});

describe('float16', () => {
  describe('rounds to nearest even and decodes exactly', () => {
    const rounded: [string, number, number][] = [
      ['1', 1, 0x3c00],
      ['-2', -2, 0xc000],
      ['the largest float16', 65504, 0x7bff],
      ['65520, to infinity', 65520, 0x7c00],
      ['the smallest subnormal', 2 ** -24, 0x0001],
      ['half the smallest subnormal: a tie, to even (zero)', 2 ** -25, 0x0000],
      ['the tie between 1 and 1+2^-10, to even', 1 + 2 ** -11, 0x3c00],
      ['1 + 3·2^-11, up', 1 + 3 * 2 ** -11, 0x3c02],
      ['0.1', 0.1, 0x2e66],
    ];
    for (const [name, value, bits] of rounded) {
      it(`encodes ${name}`, () => {
        assert.equal(toFloat16Bits(value), bits);
      });
    }

    it('decodes every 37th finite bit pattern exactly (round trip)', () => {
      for (let bits = 0; bits < 0x7c00; bits += 37) assert.equal(toFloat16Bits(fromFloat16Bits(bits)), bits);
    });

    it('decodes NaN', () => {
      assert.ok(Number.isNaN(fromFloat16Bits(0x7e00)));
    });
  });
});
