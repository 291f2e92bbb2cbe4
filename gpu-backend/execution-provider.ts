import * as ort from 'onnxruntime-node';
import { buildOnnxModel } from './onnx-model-builder';

/** Which execution provider the backend runs models on, and why. */
export interface ExecutionProviderChoice {
  provider: 'cuda' | 'cpu';
  reason: string;
}

const PROBE_MODEL = buildOnnxModel({
  name: 'probe',
  inputs: [{ name: 'x', type: 'float32', dims: [1] }],
  outputs: [{ name: 'y', type: 'float32', dims: [1] }],
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
});

/**
 * Picks CUDA when onnxruntime can really open a session on it (the provider libraries and a GPU are
 * present), else CPU. `requested` forces one: 'cuda' fails when CUDA cannot be used.
 */
export async function chooseExecutionProvider(requested: 'auto' | 'cuda' | 'cpu'): Promise<ExecutionProviderChoice> {
  if (requested === 'cpu') return { provider: 'cpu', reason: 'CPU execution provider requested' };
  try {
    const session = await ort.InferenceSession.create(PROBE_MODEL, { executionProviders: ['cuda'], logSeverityLevel: 4 });
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
    await session.release();
    if ((out['y']?.data as Float32Array | undefined)?.[0] !== 1) throw new Error('probe model gave a wrong answer');
    return { provider: 'cuda', reason: 'CUDA execution provider is available' };
  } catch (err) {
    const why = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
    if (requested === 'cuda') throw new Error(`CUDA execution provider requested but unavailable: ${why}`);
    return { provider: 'cpu', reason: `CUDA execution provider unavailable (${why}); falling back to CPU` };
  }
}
