import { ProofgateError } from '../errors';
import type { Tensor } from '../tensors';
import type { TensorSpec } from './model-signature';

/** Tensors that are well-formed but do not fit the model's declared inputs. */
export class InputMismatchError extends ProofgateError {
  constructor(code: 'unknown_input' | 'missing_input' | 'type_mismatch' | 'shape_mismatch', message: string, input: string) {
    super(code, message, 400, { input });
  }
}

/** Checks named tensors against a model's declared inputs: names, element types, ranks and fixed dims. */
export function checkInputs(tensors: Readonly<Record<string, Tensor>>, specs: readonly TensorSpec[]): void {
  const byName = new Map(specs.map((s) => [s.name, s]));
  for (const name of Object.keys(tensors)) {
    if (!byName.has(name)) {
      throw new InputMismatchError('unknown_input', `model has no input "${name}" (inputs: ${specs.map((s) => s.name).join(', ')})`, name);
    }
  }
  for (const spec of specs) {
    const t = tensors[spec.name];
    if (!t) throw new InputMismatchError('missing_input', `input "${spec.name}" is required`, spec.name);
    if (t.type !== spec.type) {
      throw new InputMismatchError('type_mismatch', `input "${spec.name}" must be ${spec.type}, got ${t.type}`, spec.name);
    }
    if (spec.dims === null) continue;
    const expected = `[${spec.dims.map((d) => d ?? '?').join(', ')}]`;
    if (t.dims.length !== spec.dims.length) {
      throw new InputMismatchError(
        'shape_mismatch',
        `input "${spec.name}" must have rank ${spec.dims.length} ${expected}, got [${t.dims.join(', ')}]`,
        spec.name,
      );
    }
    spec.dims.forEach((d, i) => {
      if (d !== null && t.dims[i] !== d) {
        throw new InputMismatchError('shape_mismatch', `input "${spec.name}" must have shape ${expected}, got [${t.dims.join(', ')}]`, spec.name);
      }
    });
  }
}
