import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { validatePolicyDataModule } from '../../../signer-node/policy-data-sandbox';
import { buildPolicyData, compileWat } from '../../../policies/policy-data/build';

const limits = { maxMemoryPages: 256, maxModuleBytes: 1 << 20 };
const ALLOC = '(func (export "alloc") (param i32) (result i32) (i32.const 1024))';
const RUN = '(func (export "run") (param i32 i32) (result i64) (i64.const 0))';
const MEMORY = '(memory (export "memory") 1 1)';

/** Compiles a module from its parts, so each case changes one thing. */
const module = (parts: { imports?: string; memory?: string; alloc?: string; run?: string }): Promise<Uint8Array> =>
  compileWat(`(module ${parts.imports ?? ''} ${parts.memory ?? MEMORY} ${parts.alloc ?? ALLOC} ${parts.run ?? RUN})`);

async function refused(bytes: Uint8Array | Promise<Uint8Array>, code: string, message: RegExp): Promise<void> {
  const b = await bytes;
  assert.throws(
    () => validatePolicyDataModule(b, limits),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('validatePolicyDataModule', () => {
  let demo: Uint8Array[] = [];
  before(async () => {
    demo = await Promise.all([buildPolicyData('intent-risk'), buildPolicyData('price-feed')]).then((built) => built.map((b) => b.bytes));
  });

  it('accepts the demo modules and a minimal module', async () => {
    for (const bytes of demo) validatePolicyDataModule(bytes, limits);
    validatePolicyDataModule(await module({}), limits);
  });

  it('refuses bytes that are not WebAssembly', () =>
    refused(Promise.resolve(new TextEncoder().encode('{"not":"wasm"}')), 'invalid_module', /not a valid WebAssembly module/));

  it('refuses modules over maxModuleBytes', async () => {
    const bytes = await module({});
    assert.throws(() => validatePolicyDataModule(bytes, { ...limits, maxModuleBytes: bytes.length - 1 }), { code: 'invalid_module' });
  });

  it('refuses WASI and any import besides the proofgate host functions', async () => {
    await refused(
      module({ imports: '(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))' }),
      'forbidden_import',
      /wasi_snapshot_preview1\.fd_write/,
    );
    await refused(module({ imports: '(import "proofgate" "clock_now" (func (result i64)))' }), 'forbidden_import', /proofgate\.clock_now/);
    await refused(module({ imports: '(import "env" "seed" (global i64))' }), 'forbidden_import', /env\.seed \(global\)/);
    await refused(module({ imports: '(import "proofgate" "memory" (memory 1 1))', memory: '' }), 'forbidden_import', /proofgate\.memory \(memory\)/);
  });

  it('refuses a host function imported with another signature', () =>
    refused(
      module({ imports: '(import "proofgate" "http_fetch" (func (param i32) (result i32)))' }),
      'forbidden_import',
      /signature \(i32\) -> \(i32\)/,
    ));

  it('refuses memory without a maximum, or above maxMemoryPages', async () => {
    await refused(module({ memory: '(memory (export "memory") 1)' }), 'memory_limit', /declare a maximum/);
    await refused(module({ memory: '(memory (export "memory") 1 65536)' }), 'memory_limit', /65536 pages exceeds the limit of 256/);
  });

  it('refuses modules missing the ABI exports or with other signatures', async () => {
    await refused(module({ memory: '(memory 1 1)' }), 'invalid_module', /export its memory/);
    await refused(module({ alloc: '' }), 'invalid_module', /export function "alloc"/);
    await refused(module({ run: '(func (export "run") (param i32 i32) (result i32) (i32.const 0))' }), 'invalid_module', /export run has signature/);
    await refused(module({ memory: '' }), 'invalid_module', /exactly one memory/);
  });
});
