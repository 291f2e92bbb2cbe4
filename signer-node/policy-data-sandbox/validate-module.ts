import { HOST_IMPORTS, HOST_MODULE, MEMORY_EXPORT, MODULE_EXPORTS, type AbiFunctionType } from './abi';
import { ForbiddenImportError, InvalidModuleError, MemoryLimitError } from './errors';
import { readModuleShape, type FunctionType } from './module-shape';

/** Limits a module must fit before it is run. */
export interface ModuleLimits {
  /** Largest declared memory maximum accepted, in 64 KiB pages. */
  maxMemoryPages: number;
  /** Largest module binary accepted, in bytes. */
  maxModuleBytes: number;
}

/**
 * Checks, before anything runs, that the bytes are a valid module following the ABI: only the
 * `proofgate` host functions with their exact signatures are imported; `memory`, `alloc` and `run`
 * are exported with their signatures; the one memory declares a maximum within the limit and is
 * neither shared nor 64-bit. Throws InvalidModuleError, ForbiddenImportError or MemoryLimitError.
 */
export function validatePolicyDataModule(bytes: Uint8Array, limits: ModuleLimits): void {
  if (bytes.length > limits.maxModuleBytes) {
    throw new InvalidModuleError(`module of ${bytes.length} bytes exceeds the limit of ${limits.maxModuleBytes} bytes`);
  }
  if (!WebAssembly.validate(bytes)) throw new InvalidModuleError('bytes are not a valid WebAssembly module');
  const shape = readModuleShape(bytes);

  for (const imp of shape.imports) {
    const what = `${imp.module}.${imp.name}`;
    const expected = imp.module === HOST_MODULE ? HOST_IMPORTS[imp.name] : undefined;
    if (!expected || imp.kind !== 'function') {
      throw new ForbiddenImportError(`import ${what} (${imp.kind}) is not a proofgate host function`);
    }
    if (!sameSignature(imp.type, expected)) {
      throw new ForbiddenImportError(`import ${what} has signature ${show(imp.type)}, the ABI says ${show(expected)}`);
    }
  }

  if (shape.memories.length !== 1) throw new InvalidModuleError(`module must define exactly one memory, it defines ${shape.memories.length}`);
  const memory = shape.memories[0]!;
  if (memory.memory64 || memory.shared) throw new MemoryLimitError('memory must be a 32-bit, non-shared memory');
  if (memory.max === undefined) throw new MemoryLimitError('memory must declare a maximum size');
  if (memory.max > limits.maxMemoryPages) {
    throw new MemoryLimitError(`memory maximum of ${memory.max} pages exceeds the limit of ${limits.maxMemoryPages} pages`);
  }

  if (!shape.exports.some((e) => e.name === MEMORY_EXPORT && e.kind === 'memory')) {
    throw new InvalidModuleError(`module must export its memory as "${MEMORY_EXPORT}"`);
  }
  for (const [name, expected] of Object.entries(MODULE_EXPORTS)) {
    const exp = shape.exports.find((e) => e.name === name);
    if (exp?.kind !== 'function') throw new InvalidModuleError(`module must export function "${name}"`);
    if (!sameSignature(exp.type, expected)) {
      throw new InvalidModuleError(`export ${name} has signature ${show(exp.type)}, the ABI says ${show(expected)}`);
    }
  }
}

function sameSignature(actual: FunctionType | undefined, expected: AbiFunctionType): boolean {
  return actual !== undefined && show(actual) === show(expected);
}

function show(type: FunctionType | AbiFunctionType | undefined): string {
  return type ? `(${type.params.join(', ')}) -> (${type.results.join(', ')})` : 'unknown';
}
