import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXACT_AGREEMENT, fixReferenceOutput, outputsAgree, withinTolerance, type OperatorOutput } from '../../../core/attestation';
import { toFloat16Bits, type Tensor } from '../../../core/tensors';
import { float32, int32, outputHash } from './fixtures';

const TOLERANCE = { absolute: 1e-4, relative: 1e-3 };

function float16(values: number[]): Tensor {
  const data = new Uint8Array(2 * values.length);
  const view = new DataView(data.buffer);
  for (const [i, v] of values.entries()) view.setUint16(2 * i, toFloat16Bits(v), true);
  return { type: 'float16', dims: [values.length], data };
}

describe('output agreement within the declared tolerance', () => {
  it('takes float elements within absolute + relative × |reference| and refuses those beyond', () => {
    assert.ok(withinTolerance(1.0009, 1, TOLERANCE)); // 0.0009 <= 1e-4 + 1e-3
    assert.ok(!withinTolerance(1.0012, 1, TOLERANCE));
    assert.ok(withinTolerance(5e-5, 0, TOLERANCE)); // the absolute bound carries values near zero
    assert.ok(!withinTolerance(2e-4, 0, TOLERANCE));
    assert.ok(withinTolerance(Number.NaN, Number.NaN, TOLERANCE));
    assert.ok(!withinTolerance(0, Number.NaN, TOLERANCE));
    assert.ok(withinTolerance(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, TOLERANCE));
    assert.ok(!withinTolerance(1e308, Number.POSITIVE_INFINITY, TOLERANCE));
  });

  it('agrees on float32 and float16 outputs within the bounds, and not outside them', () => {
    const reference = { y: float32([1, 2, -3, 0]) };
    assert.ok(outputsAgree(reference, { y: float32([1.0005, 2.001, -3.002, 5e-5]) }, TOLERANCE));
    assert.ok(!outputsAgree(reference, { y: float32([1.0005, 2.001, -3.004, 5e-5]) }, TOLERANCE));
    assert.ok(outputsAgree({ h: float16([0.5, 1]) }, { h: float16([0.5, 1.0009765625]) }, TOLERANCE));
    assert.ok(!outputsAgree({ h: float16([0.5, 1]) }, { h: float16([0.5, 1.5]) }, TOLERANCE));
  });

  it('asks integers, bools, names, types and dims to be equal, and identical bytes under a zero tolerance', () => {
    assert.ok(outputsAgree({ n: int32([1, 2]) }, { n: int32([1, 2]) }, TOLERANCE));
    assert.ok(!outputsAgree({ n: int32([1, 2]) }, { n: int32([1, 3]) }, { absolute: 10, relative: 10 }));
    assert.ok(!outputsAgree({ y: float32([1, 2]) }, { z: float32([1, 2]) }, TOLERANCE));
    assert.ok(!outputsAgree({ y: float32([1, 2]) }, { y: float32([1, 2]), z: float32([0]) }, TOLERANCE));
    assert.ok(!outputsAgree({ y: float32([1, 2]) }, { y: float32([1, 2], [2, 1]) }, TOLERANCE));
    assert.ok(!outputsAgree({ y: float32([1, 2]) }, { y: { ...int32([1, 2]), type: 'int32' } }, TOLERANCE));
    assert.ok(!outputsAgree({ y: float32([1, 2]) }, { y: float32([1, 2.0000002]) }, EXACT_AGREEMENT));
    assert.ok(!outputsAgree({ y: float32([0]) }, { y: float32([-0]) }, EXACT_AGREEMENT), 'bytes, not values');
  });
});

describe('the reference output', () => {
  const result = async (operatorId: string, stake: bigint, values: number[]): Promise<OperatorOutput> => {
    const outputs = { y: float32(values) };
    return { operatorId, stake, outputHash: await outputHash(outputs), outputs };
  };

  it('is the output the most stake returned byte for byte, with everyone agreeing', async () => {
    const a = await result('operator-1', 50n, [1, 2]);
    const b = await result('operator-2', 30n, [1, 2]);
    const reference = fixReferenceOutput([a, b], EXACT_AGREEMENT)!;
    assert.equal(reference.outputHash, a.outputHash);
    assert.deepEqual(reference.agreeing, ['operator-1', 'operator-2']);
    assert.equal(reference.agreeingStake, 80n);
  });

  it('groups identical outputs by stake: the 30 + 20 that agree outweigh the 40 alone', async () => {
    const results = [await result('a', 40n, [9, 9]), await result('b', 30n, [1, 2]), await result('c', 20n, [1, 2])];
    const reference = fixReferenceOutput(results, EXACT_AGREEMENT)!;
    assert.equal(reference.referenceOperator, 'b');
    assert.deepEqual(reference.agreeing, ['b', 'c']);
    assert.equal(reference.agreeingStake, 50n);
  });

  it('counts float outputs within the tolerance as agreeing, and leaves out the ones beyond it', async () => {
    const results = [await result('a', 50n, [1, 2]), await result('b', 30n, [1.0005, 2]), await result('c', 20n, [1.5, 2])];
    const reference = fixReferenceOutput(results, TOLERANCE)!;
    assert.equal(reference.referenceOperator, 'a');
    assert.deepEqual(reference.agreeing, ['a', 'b']);
    assert.equal(reference.agreeingStake, 80n);
    assert.equal(fixReferenceOutput(results, EXACT_AGREEMENT)!.agreeingStake, 50n, 'exactly, each stands alone');
  });

  it('is the same whatever order the results come in', async () => {
    const results = [await result('a', 30n, [1, 2]), await result('b', 30n, [1, 3])];
    const one = fixReferenceOutput(results, EXACT_AGREEMENT)!;
    const other = fixReferenceOutput([...results].reverse(), EXACT_AGREEMENT)!;
    assert.equal(one.outputHash, other.outputHash);
    assert.equal(one.agreeingStake, 30n);
    assert.equal(fixReferenceOutput([], EXACT_AGREEMENT), null);
  });
});
