/**
 * The PolicyData core-module ABI (v1): what a module must export and the only host functions it
 * may import. Shared by the validator (main thread) and the worker that runs the module.
 */

/** WebAssembly value types that appear in the ABI's signatures. */
export type AbiValueType = 'i32' | 'i64';

/** A function signature. */
export interface AbiFunctionType {
  params: readonly AbiValueType[];
  results: readonly AbiValueType[];
}

/** Import module name of every host function. */
export const HOST_MODULE = 'proofgate';

/**
 * Host functions, all under module `proofgate`. `http_fetch` and `secrets_get` return a packed
 * pointer/length (see packPointer) of a JSON envelope written into the module's memory through its
 * own `alloc`. Nothing else is provided (no WASI, clock or randomness), so a run is a pure function
 * of its input, the secrets it reads and the recorded HTTP responses.
 */
export const HOST_IMPORTS: Readonly<Record<string, AbiFunctionType>> = {
  http_fetch: { params: ['i32', 'i32'], results: ['i64'] },
  secrets_get: { params: ['i32', 'i32'], results: ['i64'] },
  log: { params: ['i32', 'i32'], results: [] },
};

/** Functions the module must export, besides a memory named `memory`. */
export const MODULE_EXPORTS: Readonly<Record<string, AbiFunctionType>> = {
  alloc: { params: ['i32'], results: ['i32'] },
  run: { params: ['i32', 'i32'], results: ['i64'] },
};

/** Name of the memory the module must export; the host reads and writes only this memory. */
export const MEMORY_EXPORT = 'memory';

/** Packs a pointer and a length into the i64 the ABI returns: `(ptr << 32) | len`. */
export function packPointer(ptr: number, len: number): bigint {
  return (BigInt(ptr >>> 0) << 32n) | BigInt(len >>> 0);
}

/** Splits an i64 `(ptr << 32) | len` as returned by `run`, `http_fetch` or `secrets_get`. */
export function unpackPointer(packed: bigint): { ptr: number; len: number } {
  const bits = BigInt.asUintN(64, packed);
  return { ptr: Number(bits >> 32n), len: Number(bits & 0xffffffffn) };
}

/*
 * The result envelope, used in both directions: `run` returns `{"ok": <json>}` or `{"err": "<message>"}`,
 * and so do the host calls. Hosts serialise it compactly with the single key first, so a module
 * written in WAT can test the prefix instead of parsing JSON.
 */

/** Serialises a success envelope. */
export function okEnvelope(value: unknown): string {
  return JSON.stringify({ ok: value });
}

/** Serialises an error envelope whose message starts with a stable code (`host_not_allowed: ...`). */
export function errEnvelope(code: string, message: string): string {
  return JSON.stringify({ err: `${code}: ${message}` });
}
