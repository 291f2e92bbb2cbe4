// wrangler bundles `import mod from './x.wasm'` as a precompiled WebAssembly.Module (CompiledWasm rule).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
