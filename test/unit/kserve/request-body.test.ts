import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProofgateError } from '../../../core/errors';
import type { TensorSpec } from '../../../core/onnx';
import { decodeTensors, encodeTensors, tensorFromJson, tensorToJson } from '../../../core/tensors';
import { jsonHeaderLength, readKserveBody } from '../../../workers/inference/kserve/request';

// Reading the Open Inference Protocol's inference request object against a model, as the Worker does.

const model: { inputs: TensorSpec[]; outputs: TensorSpec[] } = {
  inputs: [
    { name: 'a', type: 'float32', dims: [2, 2] },
    { name: 'n', type: 'int64', dims: [null] },
  ],
  outputs: [
    { name: 'y', type: 'float32', dims: [2, 2] },
    { name: 'z', type: 'int64', dims: [null] },
  ],
};
const a = { name: 'a', shape: [2, 2], datatype: 'FP32', data: [1, 2, 3, 4] };
const n = { name: 'n', shape: [3], datatype: 'INT64', data: [1, '9007199254740993', -5] };
const utf8 = (text: string) => new TextEncoder().encode(text);
const body = (request: unknown) => utf8(JSON.stringify(request));

function refusal(bytes: Uint8Array, headerLength: number | null = null): ProofgateError {
  try {
    readKserveBody(bytes, headerLength, model);
  } catch (err) {
    assert.ok(err instanceof ProofgateError, String(err));
    assert.equal(err.status, 400, err.message);
    return err;
  }
  assert.fail('the body was accepted');
}

describe('Open Inference Protocol inference request', () => {
  it('reads inputs into the canonical encoding, flat or nested as the shape, members in any order', () => {
    const expected = encodeTensors({
      a: tensorFromJson('a', { type: 'float32', dims: [2, 2], data: [1, 2, 3, 4] }),
      n: tensorFromJson('n', { type: 'int64', dims: [3], data: [1, '9007199254740993', -5] }),
    });
    const flat = readKserveBody(body({ id: '7', inputs: [a, n] }), null, model);
    assert.deepEqual(flat.inputs, expected);
    assert.equal(flat.id, '7');
    assert.equal(flat.outputs, null);
    const nested = readKserveBody(
      body({
        inputs: [
          n,
          {
            ...a,
            data: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
      }),
      null,
      model,
    );
    assert.deepEqual(nested.inputs, expected);
    const dataFirst = readKserveBody(
      utf8(`{"inputs": [{"data": [1, 2, 3, 4], "shape": [2, 2], "datatype": "FP32", "name": "a"}, ${JSON.stringify(n)}]}`),
      null,
      model,
    );
    assert.deepEqual(dataFirst.inputs, expected);
  });

  it('checks an input against the model before it converts its data (data first or not)', () => {
    const huge = `[${new Array(100_000).fill('"x"').join(',')}]`;
    // Wrong datatype with data that would not convert: the model's answer, not the data's.
    const err = refusal(utf8(`{"inputs": [{"data": ${huge}, "name": "a", "shape": [2, 2], "datatype": "INT32"}]}`));
    assert.equal(err.code, 'type_mismatch');
    assert.match(err.message, /must be FP32, got INT32/);
    assert.equal(refusal(utf8(`{"inputs": [{"name": "a", "shape": [2, 3], "datatype": "FP32", "data": ${huge}}]}`)).code, 'shape_mismatch');
    // More elements than the shape holds: refused at the first one too many.
    const long = refusal(
      utf8(`{"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [${new Array(100_000).fill('1').join(',')}]}]}`),
    );
    assert.equal(long.code, 'invalid_tensor');
    assert.match(long.message, /holds 4 elements but data has more/);
  });

  describe('refuses data that disagree with the shape', () => {
    const badData: unknown[][] = [
      [1, 2, 3],
      [[1, 2, 3, 4]],
      [[1, 2], [3]],
      [[1, 2], 3, 4],
      [[[1, 2]], [[3, 4]]],
      [1, 2, 3, 'x'],
      [1, 2, 3, null],
      [1, 2, 3, {}],
    ];
    for (const data of badData) {
      it(`data ${JSON.stringify(data)}`, () => {
        assert.equal(refusal(body({ inputs: [{ ...a, data }, n] })).code, 'invalid_tensor');
      });
    }
    const badInputs: [string, unknown[]][] = [
      ['no data', [{ ...a, data: undefined }, n]],
      ['a negative dimension', [{ ...a, shape: [2, -2] }, n]],
      ['a shape that is no list', [{ ...a, shape: 4 }, n]],
      ['an int64 beyond 2^53 as a number (it must be a string)', [{ ...n, data: [1, 2 ** 60, 3] }, a]],
    ];
    for (const [name, inputs] of badInputs) {
      it(name, () => {
        assert.equal(refusal(body({ inputs })).code, 'invalid_tensor');
      });
    }
  });

  describe('refuses what does not fit the model, and bodies that are not the protocol object', () => {
    const cases: [string, () => Uint8Array, string][] = [
      ['a missing input', () => body({ inputs: [a] }), 'missing_input'],
      ['an input the model lacks', () => body({ inputs: [a, n, { ...a, name: 'b' }] }), 'unknown_input'],
      ['an input given twice', () => body({ inputs: [a, a, n] }), 'invalid_tensor'],
      ['a protocol datatype no model has', () => body({ inputs: [{ ...a, datatype: 'FP64' }, n] }), 'unsupported_datatype'],
      ['a datatype that is not the protocol name', () => body({ inputs: [{ ...a, datatype: 'float32' }, n] }), 'invalid_datatype'],
      ['a name that is no string', () => body({ inputs: [{ ...a, name: 7 }, n] }), 'invalid_request'],
      ['an id that is no string', () => body({ id: 7, inputs: [a, n] }), 'invalid_request'],
      ['parameters that are no object', () => body({ inputs: [a, n], parameters: [] }), 'invalid_request'],
      ['inputs that are no list', () => body({ inputs: { a } }), 'invalid_request'],
      ['no inputs', () => body({ id: 'x' }), 'invalid_request'],
      ['a list instead of the object', () => body([a]), 'invalid_request'],
      ['truncated JSON', () => utf8('{"inputs": ['), 'invalid_json'],
      ['text after the JSON', () => utf8(`{"inputs": ${JSON.stringify([a, n])}} x`), 'invalid_json'],
      ['a member given twice', () => utf8(`{"inputs": ${JSON.stringify([a, n])}, "inputs": []}`), 'invalid_request'],
    ];
    for (const [name, bytes, code] of cases) {
      it(`${name}: ${code}`, () => {
        assert.equal(refusal(bytes()).code, code);
      });
    }
  });

  describe('reads the outputs asked for, with their binary_data, and refuses outputs the model lacks', () => {
    it('reads the outputs asked for, with their binary_data', () => {
      const asked = readKserveBody(body({ inputs: [a, n], outputs: [{ name: 'z' }, { name: 'y', parameters: { binary_data: true } }] }), null, model);
      assert.deepEqual(asked.outputs, [
        { name: 'z', binary: false },
        { name: 'y', binary: true },
      ]);
    });

    it("an output's binary_data overrides binary_data_output", () => {
      const all = readKserveBody(
        body({ inputs: [a, n], outputs: [{ name: 'z', parameters: { binary_data: false } }], parameters: { binary_data_output: true } }),
        null,
        model,
      );
      assert.deepEqual(all.outputs, [{ name: 'z', binary: false }]);
    });

    it('an empty list asks for every output', () => {
      assert.equal(readKserveBody(body({ inputs: [a, n], outputs: [] }), null, model).outputs, null);
    });

    const refusals: [string, unknown[], string][] = [
      ['an output the model lacks', [{ name: 'w' }], 'unknown_output'],
      ['an output asked twice', [{ name: 'y' }, { name: 'y' }], 'invalid_request'],
      ['an unsupported output parameter', [{ name: 'y', parameters: { classification: 3 } }], 'unsupported_parameter'],
      ['binary_data that is no boolean', [{ name: 'y', parameters: { binary_data: 'yes' } }], 'invalid_request'],
    ];
    for (const [name, outputs, code] of refusals) {
      it(`refuses ${name}: ${code}`, () => {
        assert.equal(refusal(body({ inputs: [a, n], outputs })).code, code);
      });
    }
  });

  describe('reads binary tensor data after the JSON, in input order, exactly as long as the shapes say', () => {
    const floats = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    const json = body({ inputs: [{ name: 'a', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 16 } }, n] });
    const whole = new Uint8Array([...json, ...floats]);

    it('reads it', () => {
      const read = readKserveBody(whole, jsonHeaderLength(String(json.length), whole.length), model);
      const tensors = decodeTensors(read.inputs);
      assert.deepEqual(tensorToJson(tensors['a']!).data, [1, 2, 3, 4]);
    });

    it('refuses one byte short', () => {
      assert.equal(refusal(whole.subarray(0, whole.length - 1), json.length).code, 'invalid_request');
    });

    it('refuses one byte too many', () => {
      assert.equal(refusal(new Uint8Array([...whole, 0]), json.length).code, 'invalid_request');
    });

    it('refuses binary data without the header: it is not JSON', () => {
      assert.equal(refusal(whole).code, 'invalid_json');
    });

    it('refuses binary_data_size without the header', () => {
      assert.equal(refusal(json).code, 'invalid_request');
    });

    it('refuses a binary_data_size other than the shape says', () => {
      const wrongSize = body({ inputs: [{ name: 'a', shape: [2, 2], datatype: 'FP32', parameters: { binary_data_size: 12 } }, n] });
      assert.equal(refusal(new Uint8Array([...wrongSize, ...floats.subarray(0, 12)]), wrongSize.length).code, 'invalid_tensor');
    });

    it('refuses an input with both JSON data and binary data', () => {
      const both = body({ inputs: [{ ...a, parameters: { binary_data_size: 16 } }, n] });
      assert.equal(refusal(new Uint8Array([...both, ...floats]), both.length).code, 'invalid_tensor');
    });

    const bools = { inputs: [{ name: 'b', shape: [2], datatype: 'BOOL', parameters: { binary_data_size: 2 } }] };
    const boolModel = { inputs: [{ name: 'b', type: 'bool' as const, dims: [2] }], outputs: [] };
    const boolJson = body(bools);

    it('refuses a binary BOOL byte other than 0 or 1', () => {
      assert.throws(() => readKserveBody(new Uint8Array([...boolJson, 1, 2]), boolJson.length, boolModel), { code: 'invalid_tensor' });
    });

    it('reads binary BOOL bytes', () => {
      assert.deepEqual([...decodeTensors(readKserveBody(new Uint8Array([...boolJson, 1, 0]), boolJson.length, boolModel).inputs)['b']!.data], [1, 0]);
    });
  });

  describe('takes an Inference-Header-Content-Length only as a byte count within the body', () => {
    it('none: no JSON header length', () => {
      assert.equal(jsonHeaderLength(null, 10), null);
    });

    it('the whole body', () => {
      assert.equal(jsonHeaderLength('10', 10), 10);
    });

    for (const bad of ['11', '-1', '1e1', '', 'ten', '0x5']) {
      it(`refuses ${JSON.stringify(bad)}`, () => {
        assert.throws(() => jsonHeaderLength(bad, 10), { code: 'invalid_request' });
      });
    }
  });
});
