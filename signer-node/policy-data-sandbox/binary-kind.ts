import { InvalidModuleError } from './errors';

/**
 * What a PolicyData binary is: a core WebAssembly module (Proofgate's ABI v1) or a WebAssembly
 * component (Newton's `newton:provider` world). Both start with `\0asm`; the next four bytes are
 * the version (core: 1) or, for a component, version 0x0d and layer 1.
 */
export type PolicyDataBinaryKind = 'core-module' | 'component';

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const CORE_MODULE_VERSION = [0x01, 0x00, 0x00, 0x00];
const COMPONENT_VERSION_AND_LAYER = [0x0d, 0x00, 0x01, 0x00];

/** The kind of a PolicyData binary from its first 8 bytes; throws InvalidModuleError for anything else. */
export function policyDataBinaryKind(bytes: Uint8Array): PolicyDataBinaryKind {
  const matches = (expected: number[], offset: number): boolean => expected.every((b, i) => bytes[offset + i] === b);
  if (bytes.length < 8 || !matches(MAGIC, 0)) throw new InvalidModuleError('bytes are not WebAssembly (no \\0asm header)');
  if (matches(CORE_MODULE_VERSION, 4)) return 'core-module';
  if (matches(COMPONENT_VERSION_AND_LAYER, 4)) return 'component';
  const found = Array.from(bytes.subarray(4, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new InvalidModuleError(
    `unsupported WebAssembly version/layer bytes ${found}: neither a core module (01 00 00 00) nor a component (0d 00 01 00)`,
  );
}
