/** Node loader: compiles bls-wasm/dist/bls_eth.wasm (extracting it from bls-eth-wasm first if missing or stale). */
import { readFileSync } from 'node:fs';
import { writeBlsWasm } from './extract';
import { createWasmBls, type WasmBls, type WasmBlsOptions } from './wasm-bls';

let compiled: Promise<WebAssembly.Module> | undefined;

/** The compiled module, shared by every instance in this process. */
export function compileBlsWasm(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    // writeBlsWasm re-extracts (and checks the pin) when dist/ is missing or stale.
    const bytes = readFileSync(writeBlsWasm());
    // @cloudflare/workers-types (in this project's tsconfig) omits compile, which workerd refuses; Node has it.
    const wasm = WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> };
    return wasm.compile(bytes);
  })();
  return compiled;
}

/** A new WasmBls instance on the same .wasm file that Workers bundle. */
export async function loadWasmBls(options?: WasmBlsOptions): Promise<WasmBls> {
  return createWasmBls(await compileBlsWasm(), options);
}
