import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProofgateError } from '../../../core/errors';
import { TENSOR_TYPES } from '../../../core/tensors';
import { KSERVE_DATATYPES, kserveDatatype, kserveShape, metadataTensor, tensorTypeOf } from '../../../workers/inference/kserve/datatypes';

// The Open Inference Protocol's datatype names ("Tensor Data Types") for Proofgate's tensor types.
const EXPECTED = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
} as const;

function refusal(datatype: unknown): ProofgateError {
  try {
    tensorTypeOf('x', datatype);
  } catch (err) {
    assert.ok(err instanceof ProofgateError, String(err));
    return err;
  }
  assert.fail(`${JSON.stringify(datatype)} was accepted`);
}

describe('Open Inference Protocol datatypes', () => {
  it('names each of the eleven tensor types as the protocol does, and reads each name back', () => {
    assert.equal(TENSOR_TYPES.length, 11);
    for (const type of TENSOR_TYPES) {
      assert.equal(kserveDatatype(type), EXPECTED[type], type);
      assert.equal(tensorTypeOf('x', EXPECTED[type]), type, EXPECTED[type]);
    }
    assert.deepEqual(KSERVE_DATATYPES, EXPECTED);
  });

  it('refuses the protocol datatypes no served model has, as unsupported', () => {
    for (const datatype of ['FP64', 'BYTES']) {
      const err = refusal(datatype);
      assert.equal(err.code, 'unsupported_datatype');
      assert.equal(err.status, 400);
    }
  });

  it('refuses anything else as an invalid datatype: names are case-sensitive, and there are no others', () => {
    for (const datatype of ['fp32', 'Fp32', 'FLOAT32', 'float32', 'BF16', 'STRING', '', 32, null, undefined, ['FP32']]) {
      const err = refusal(datatype);
      assert.equal(err.code, 'invalid_datatype', JSON.stringify(datatype));
      assert.equal(err.status, 400);
    }
  });

  it('writes shapes with -1 for a variable dimension, and an unknown rank as [-1]', () => {
    assert.deepEqual(kserveShape([1, 3, null, null]), [1, 3, -1, -1]);
    assert.deepEqual(kserveShape([]), []);
    assert.deepEqual(kserveShape(null), [-1]);
    assert.deepEqual(metadataTensor({ name: 'x', type: 'float16', dims: [null, 8] }), { name: 'x', datatype: 'FP16', shape: [-1, 8] });
  });
});
