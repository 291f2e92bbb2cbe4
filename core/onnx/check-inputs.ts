import { ProofgateError } from '../errors';
import { ELEMENT_SIZE, tensorHeaderBytes, type Tensor, type TensorHeader } from '../tensors';
import type { TensorSpec } from './model-signature';

/** Tensors that are well-formed but do not fit the model's declared inputs. */
export class InputMismatchError extends ProofgateError {
  constructor(code: 'unknown_input' | 'missing_input' | 'type_mismatch' | 'shape_mismatch', message: string, input: string) {
    super(code, message, 400, { input });
  }
}

/**
 * Checks tensor headers (name, element type, dims) against a model's declared inputs one by one,
 * as they arrive and before their data is read; `finish` then checks that none is missing.
 */
export class InputHeaderChecker {
  private readonly byName: Map<string, TensorSpec>;
  private readonly seen = new Set<string>();

  constructor(private readonly specs: readonly TensorSpec[]) {
    this.byName = new Map(specs.map((s) => [s.name, s]));
  }

  /** Throws InputMismatchError unless the header fits its declared input. */
  check(header: Pick<TensorHeader, 'name' | 'type' | 'dims'>): void {
    const spec = this.byName.get(header.name);
    if (!spec) {
      throw new InputMismatchError(
        'unknown_input',
        `model has no input "${header.name}" (inputs: ${this.specs.map((s) => s.name).join(', ')})`,
        header.name,
      );
    }
    this.seen.add(header.name);
    if (header.type !== spec.type) {
      throw new InputMismatchError('type_mismatch', `input "${spec.name}" must be ${spec.type}, got ${header.type}`, spec.name);
    }
    if (spec.dims === null) return;
    const expected = `[${spec.dims.map((d) => d ?? '?').join(', ')}]`;
    if (header.dims.length !== spec.dims.length) {
      throw new InputMismatchError(
        'shape_mismatch',
        `input "${spec.name}" must have rank ${spec.dims.length} ${expected}, got [${header.dims.join(', ')}]`,
        spec.name,
      );
    }
    spec.dims.forEach((d, i) => {
      if (d !== null && header.dims[i] !== d) {
        throw new InputMismatchError(
          'shape_mismatch',
          `input "${spec.name}" must have shape ${expected}, got [${header.dims.join(', ')}]`,
          spec.name,
        );
      }
    });
  }

  /** Throws `missing_input` for the first declared input no header named. */
  finish(): void {
    for (const spec of this.specs)
      if (!this.seen.has(spec.name)) throw new InputMismatchError('missing_input', `input "${spec.name}" is required`, spec.name);
  }
}

/** Checks named tensors against a model's declared inputs: names, element types, ranks and fixed dims. */
export function checkInputs(tensors: Readonly<Record<string, Tensor>>, specs: readonly TensorSpec[]): void {
  const checker = new InputHeaderChecker(specs);
  for (const [name, t] of Object.entries(tensors)) checker.check({ name, type: t.type, dims: [...t.dims] });
  checker.finish();
}

/**
 * The exact size of the canonical encoding of a model's inputs when every input's shape is fixed,
 * else null (the inputs' size is then the caller's to declare, within the body limit).
 */
export function fixedInputBytes(specs: readonly TensorSpec[]): { bytes: number; elements: number } | null {
  let bytes = 4;
  let elements = 0;
  for (const s of specs) {
    if (s.dims === null || s.dims.some((d) => d === null)) return null;
    const count = (s.dims as number[]).reduce((a, b) => a * b, 1);
    bytes += tensorHeaderBytes(new TextEncoder().encode(s.name).length, s.type, s.dims.length) + count * ELEMENT_SIZE[s.type];
    elements += count;
  }
  return { bytes, elements };
}
