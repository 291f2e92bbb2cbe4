/// <reference path="./wasm-module.d.ts" />
/**
 * Worker loader: wrangler bundles dist/bls_eth.wasm (written by bls-wasm/build.ts before bundling)
 * as a CompiledWasm module; instantiating a precompiled module is allowed in workerd, compiling
 * bytes is not. One instance per isolate, made on first use.
 */
import blsModule from './dist/bls_eth.wasm';
import type { BlsVerifier } from '../core/attestation/bls-verifier';
import { createCachedBlsVerifier } from './bls-verifier';
import { createWasmBls, type WasmBls } from './wasm-bls';

/** The precompiled module itself, for callers that want their own instances. */
export const blsWasmModule: WebAssembly.Module = blsModule;

let instance: Promise<WasmBls> | undefined;

/** The isolate's WasmBls (instantiated and self-tested once). */
export function getWasmBls(): Promise<WasmBls> {
  if (!instance) {
    instance = createWasmBls(blsModule);
    instance.catch(() => {
      instance = undefined;
    }); // a failed start is retried on the next call
  }
  return instance;
}

let verifier: Promise<BlsVerifier> | undefined;

/** The isolate's BlsVerifier on the WebAssembly build, with decoded registry keys cached across requests and Durable Objects. */
export function getWasmBlsVerifier(): Promise<BlsVerifier> {
  if (!verifier) {
    verifier = getWasmBls().then((bls) => createCachedBlsVerifier(bls));
    verifier.catch(() => {
      verifier = undefined;
    });
  }
  return verifier;
}
