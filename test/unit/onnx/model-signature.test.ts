import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidModelError, checkInputs, readModelSignature } from '../../../core/onnx';
import { tensorFromJson } from '../../../core/tensors';
import { demoModels } from '../../../local-stack/demo-models';
import { testModels } from '../../../scripts/generate-test-models';
import { buildOnnxModel } from '../../../gpu-backend/onnx-model-builder';

const model = (name: string): Uint8Array => new Uint8Array(readFileSync(demoModels().find((m) => m.name === name)!.file));

describe('readModelSignature', () => {
  it('reads Silero VAD v5 inputs and outputs', () => {
    assert.deepEqual(readModelSignature(model('silero-vad')), {
      inputs: [
        { name: 'input', type: 'float32', dims: [null, null] },
        { name: 'state', type: 'float32', dims: [2, null, 128] },
        { name: 'sr', type: 'int64', dims: [] },
      ],
      outputs: [
        { name: 'output', type: 'float32', dims: [null, 1] },
        { name: 'stateN', type: 'float32', dims: [null, null, null] },
      ],
    });
  });

  it('reads PaddleOCR detection', () => {
    assert.deepEqual(readModelSignature(model('ppocr-det')), {
      inputs: [{ name: 'x', type: 'float32', dims: [null, 3, null, null] }],
      outputs: [{ name: 'sigmoid_0.tmp_0', type: 'float32', dims: [null, 1, null, null] }],
    });
  });

  it('reads generated models, leaving initializers out of the inputs', () => {
    const withWeights = buildOnnxModel({
      name: 'w',
      inputs: [
        { name: 'x', type: 'float32', dims: [1, 2] },
        { name: 'w', type: 'float32', dims: [1, 2] },
      ],
      outputs: [{ name: 'y', type: 'float32', dims: [1, 2] }],
      nodes: [{ op: 'Mul', inputs: ['x', 'w'], outputs: ['y'] }],
      initializers: [{ name: 'w', dims: [1, 2], values: [2, 3] }],
    });
    assert.deepEqual(readModelSignature(withWeights).inputs, [{ name: 'x', type: 'float32', dims: [1, 2] }]);
    const types = readModelSignature(testModels()[1]!.bytes);
    assert.equal(types.inputs.length, 11);
    assert.deepEqual(
      types.inputs.find((i) => i.name === 'x_float16'),
      { name: 'x_float16', type: 'float16', dims: [null] },
    );
  });

  describe('rejects bytes that are not an ONNX model', () => {
    const notModels: [string, Uint8Array][] = [
      ['no bytes', new Uint8Array()],
      ['text', new TextEncoder().encode('hello world')],
      ['a truncated varint', new Uint8Array([0x08, 0x80])],
    ];
    for (const [name, bytes] of notModels) {
      it(name, () => {
        assert.throws(() => readModelSignature(bytes), InvalidModelError);
      });
    }
  });
});

describe('checkInputs', () => {
  const specs = readModelSignature(model('silero-vad')).inputs;
  const ok = {
    input: tensorFromJson('input', { type: 'float32', dims: [1, 4], data: [0, 0, 0, 0] }),
    state: tensorFromJson('state', { type: 'float32', dims: [2, 1, 128], data: new Array(256).fill(0) }),
    sr: tensorFromJson('sr', { type: 'int64', dims: [], data: [16000] }),
  };
  const code = (tensors: Record<string, unknown>): string => {
    try {
      checkInputs(tensors as typeof ok, specs);
      return 'ok';
    } catch (e) {
      return (e as { code: string }).code;
    }
  };

  it('accepts tensors that fit and names each kind of misfit', () => {
    assert.equal(code(ok), 'ok');
    assert.equal(code({ ...ok, extra: ok.sr }), 'unknown_input');
    assert.equal(code({ input: ok.input, state: ok.state }), 'missing_input');
    assert.equal(code({ ...ok, sr: tensorFromJson('sr', { type: 'int32', dims: [], data: [16000] }) }), 'type_mismatch');
    assert.equal(code({ ...ok, input: tensorFromJson('input', { type: 'float32', dims: [4], data: [0, 0, 0, 0] }) }), 'shape_mismatch');
    assert.equal(
      code({ ...ok, state: tensorFromJson('state', { type: 'float32', dims: [3, 1, 128], data: new Array(384).fill(0) }) }),
      'shape_mismatch',
    );
  });
});
