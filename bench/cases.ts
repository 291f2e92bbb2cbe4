import type { JsonTensor } from '../core/tensors';

/** One benchmarked call: a published model and the JSON inputs it is called with. */
export interface BenchCase {
  label: string;
  model: string;
  inputs: Record<string, JsonTensor>;
}

/** A deterministic 1×3×side×side float32 image in [-0.5, 0.5) (what ppocr-det takes). */
export function benchImage(side: number): Record<string, JsonTensor> {
  const n = 3 * side * side;
  return { x: { type: 'float32', dims: [1, 3, side, side], data: Array.from({ length: n }, (_, i) => Math.fround(((i * 7919) % 255) / 255 - 0.5)) } };
}

/** The smallest call: tiny-add on two 1×4 tensors (the gateway's own cost dominates). */
export const TINY_ADD_CASE: BenchCase = {
  label: 'tiny-add',
  model: 'tiny-add',
  inputs: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] }, b: { type: 'float32', dims: [1, 4], data: [4, 3, 2, 1] } },
};
