/** BLS12-381 verification in WebAssembly (POP ciphersuite, compatible with core/attestation). */
export { createWasmBls, WASM_SIGNATURE_DST } from './wasm-bls';
export type { PublicKeyHandle, PublicKeyInput, WasmBls, WasmBlsOptions } from './wasm-bls';
export { createCachedBlsVerifier, type CachedBlsVerifierOptions } from './bls-verifier';
