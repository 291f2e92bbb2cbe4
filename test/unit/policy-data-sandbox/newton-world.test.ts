import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileWat } from '../../../policies/policy-data/build';
import { capModuleMemory } from '../../../signer-node/policy-data-sandbox/memory-cap';
import { readModuleShape } from '../../../signer-node/policy-data-sandbox/module-shape';
import { checkNewtonWorld, policyDataBinaryKind, type PolicyDataError } from '../../../signer-node/policy-data-sandbox';

// What the sandbox accepts before it transpiles anything: the binary's kind, the component's world
// (as wasm-tools prints it) against newton:provider, and the memory cap it writes into core modules.

const world = (...lines: string[]) => `package root:component;\n\nworld root {\n${lines.map((l) => `  ${l}`).join('\n')}\n}\n`;
const RUN = 'export run: func(input: string) -> result<string, string>;';

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: PolicyDataError) => {
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('policyDataBinaryKind', () => {
  it('tells core modules from components by their version and layer bytes', () => {
    assert.equal(policyDataBinaryKind(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), 'core-module');
    assert.equal(policyDataBinaryKind(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0])), 'component');
    throwsCode(() => policyDataBinaryKind(Uint8Array.from([0, 0x61, 0x73, 0x6d, 0x0e, 0, 1, 0])), 'invalid_module', /0e 00 01 00/);
    throwsCode(() => policyDataBinaryKind(new TextEncoder().encode('not wasm at all')), 'invalid_module');
  });
});

describe('checkNewtonWorld', () => {
  it('accepts newton:provider 0.2.0 and 0.1.0 with the deterministic WASI a JavaScript component imports', () => {
    const v2 = checkNewtonWorld(
      world(
        'import newton:provider/http@0.2.0;',
        'import newton:provider/secrets@0.2.0;',
        'import newton:provider/tlsn@0.2.0;',
        'import wasi:io/poll@0.2.12;',
        'import wasi:clocks/monotonic-clock@0.2.3;',
        'import wasi:cli/stderr@0.2.12;',
        '',
        RUN,
      ),
    );
    assert.deepEqual(v2, {
      version: '0.2.0',
      imports: [
        'newton:provider/http',
        'newton:provider/secrets',
        'newton:provider/tlsn',
        'wasi:io/poll',
        'wasi:clocks/monotonic-clock',
        'wasi:cli/stderr',
      ],
    });
    assert.equal(checkNewtonWorld(world('import newton:provider/http@0.1.0;', RUN)).version, '0.1.0');
    assert.deepEqual(checkNewtonWorld(world(RUN)), { version: null, imports: [] });
  });

  it('refuses WASI HTTP and sockets, telling how to build without them', () => {
    throwsCode(() => checkNewtonWorld(world('import wasi:http/types@0.2.10;', RUN)), 'forbidden_import', /--disable http/);
    throwsCode(() => checkNewtonWorld(world('import wasi:sockets/tcp@0.2.0;', RUN)), 'forbidden_import');
  });

  it('refuses other Newton versions, interfaces a version lacks, mixed versions and unknown imports', () => {
    throwsCode(() => checkNewtonWorld(world('import newton:provider/http@0.3.0;', RUN)), 'forbidden_import', /0\.1\.0 and 0\.2\.0/);
    throwsCode(() => checkNewtonWorld(world('import newton:provider/secrets@0.1.0;', RUN)), 'forbidden_import', /no interface secrets/);
    throwsCode(() => checkNewtonWorld(world('import newton:provider/http@0.1.0;', 'import newton:provider/secrets@0.2.0;', RUN)), 'forbidden_import');
    throwsCode(() => checkNewtonWorld(world('import wasi:filesystem/types@0.3.0;', RUN)), 'forbidden_import');
    throwsCode(() => checkNewtonWorld(world('import acme:oracle/prices@1.0.0;', RUN)), 'forbidden_import');
    throwsCode(() => checkNewtonWorld(world('import now: func() -> u64;', RUN)), 'forbidden_import');
  });

  it('requires exactly the run export', () => {
    throwsCode(() => checkNewtonWorld(world('import newton:provider/http@0.2.0;')), 'invalid_module', /must export run/);
    throwsCode(() => checkNewtonWorld(world('export run: func(input: string) -> string;')), 'invalid_module');
    throwsCode(() => checkNewtonWorld(world(RUN, 'export extra: func();')), 'invalid_module', /exports more than run/);
    throwsCode(() => checkNewtonWorld('package root:component;'), 'invalid_module', /no world/);
  });
});

describe('capModuleMemory', () => {
  it('writes a maximum into memories without one, lowers larger maxima and keeps the rest of the module', async () => {
    const noMax = await compileWat('(module (memory (export "memory") 3) (func (export "f") (result i32) (i32.const 7)))');
    const capped = capModuleMemory(noMax, 16);
    assert.deepEqual(readModuleShape(capped).memories, [{ min: 3, max: 16, shared: false, memory64: false }]);
    const instance = new WebAssembly.Instance(new (WebAssembly.Module as unknown as new (b: Uint8Array) => WebAssembly.Module)(capped), {});
    assert.equal((instance.exports['f'] as () => number)(), 7);
    assert.equal((instance.exports['memory'] as WebAssembly.Memory).grow(13), 3);
    assert.throws(() => (instance.exports['memory'] as WebAssembly.Memory).grow(1), RangeError);

    const bigMax = await compileWat('(module (memory 1 300))');
    assert.deepEqual(readModuleShape(capModuleMemory(bigMax, 200)).memories[0], { min: 1, max: 200, shared: false, memory64: false });
    const smallMax = await compileWat('(module (memory 1 20))');
    assert.deepEqual(readModuleShape(capModuleMemory(smallMax, 200)).memories[0], { min: 1, max: 20, shared: false, memory64: false });
  });

  it('refuses a memory that starts above the cap', async () => {
    throwsCode(() => capModuleMemory(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 0, 0xc8, 0x01]), 64), 'memory_limit', /200 pages/);
  });
});
