import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../../local-stack/demo-models';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { sharedStack } from '../support/test-stack';

// The SDK as a user gets it: `npm pack` in sdk/, the tarball installed into a fresh project (its
// dependencies from the registry), and used from there on the real stack, in plain Node (the
// machine's own Node when it is 20, the oldest the SDK supports).

const run = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let stack: LocalStackFile;
let project: string;

// The consumer: everything it does goes through the installed package.
const CONSUMER = `
import { createClient, verifyReceipt, reExecute, ReceiptRejectedError, NotFoundError, TENSORS_MEDIA_TYPE } from '@proofgate/sdk';
const gateway = process.argv[2];
const client = createClient({ gateway });
const report = {};
const inputs = { a: { dims: [1, 4], data: new Float32Array([1, 2, 3, 4]) }, b: { dims: [1, 4], data: new Float32Array([0.25, 0.5, 0.75, ${Math.random()}]) } };
const call = await client.infer('tiny-add', inputs);
report.transport = call.transport;
report.sum = Array.from(call.outputs.sum.data);
report.verification = call.verification;
const backends = (await client.listBackends()).map((b) => b.address);
report.offline = await verifyReceipt(call.receipt, { inputs, outputs: call.outputs, trustedBackends: backends });
const tampered = { ...call.receipt, outputHash: '0x' + '00'.repeat(32) };
report.tampered = await verifyReceipt(tampered, { outputs: call.outputs, trustedBackends: backends });
const alteredOutputs = { ...call.outputs, sum: { ...call.outputs.sum, data: new Float32Array([9, 9, 9, 9]) } };
report.alteredOutputs = await verifyReceipt(call.receipt, { outputs: alteredOutputs });
report.honest = await reExecute({ gateway, receipt: call.receipt, inputs, outputs: call.outputs });
report.altered = await reExecute({ gateway, receipt: call.receipt, inputs, outputs: alteredOutputs });
report.forged = await reExecute({ gateway, receipt: { ...call.receipt, outputHash: report.honest.outputHash.replace(/.$/, (c) => (c === '0' ? '1' : '0')) }, inputs });
const image = new Float32Array(3 * 32 * 32).map((_, i) => Math.sin(i / 7));
const ocr = await client.infer('ppocr-det', { x: { dims: [1, 3, 32, 32], data: image } });
report.ocr = { dims: Object.values(ocr.outputs)[0].dims, valid: ocr.verification.valid };
report.ocrReexec = await reExecute({ gateway, receipt: ocr.receipt, inputs: { x: { dims: [1, 3, 32, 32], data: image } }, outputs: ocr.outputBytes });
// A client that trusts no backend refuses the same answer.
try {
  await createClient({ gateway, trustedBackends: ['0x000000000000000000000000000000000000dEaD'] }).infer('tiny-add', inputs);
  report.untrusted = 'accepted';
} catch (e) {
  report.untrusted = { refused: e instanceof ReceiptRejectedError, code: e.code, reasons: e.reasons };
}
try {
  await client.infer('no-such-model', inputs);
} catch (e) {
  report.notFound = { isClass: e instanceof NotFoundError, code: e.code, status: e.status };
}
report.mediaType = TENSORS_MEDIA_TYPE;
for (const k of ['honest', 'altered', 'forged', 'ocrReexec']) delete report[k].outputs;
console.log(JSON.stringify(report));
`;

// A TypeScript consumer: the published declarations must type its calls.
const TYPED_CONSUMER = `
import { createClient, verifyReceipt, type InferResult, type ReceiptVerification } from '@proofgate/sdk';
const client = createClient({ gateway: 'http://127.0.0.1:1', maxPrice: 1000n });
export async function use(): Promise<ReceiptVerification> {
  const r: InferResult = await client.infer('m', { x: { dims: [1], data: new Float32Array([1]) } }, { version: 1 });
  const n: number = r.outputs['y']!.dims[0]!;
  void n;
  return verifyReceipt(r.receipt, { outputs: r.outputBytes });
}
`;

before(async () => {
  stack = await sharedStack();
  project = await mkdtemp(join(tmpdir(), 'proofgate-sdk-consumer-'));
});
after(async () => {
  if (project) await rm(project, { recursive: true, force: true });
});

describe('@proofgate/sdk from its tarball', () => {
  let tarball: string;

  it('packs into a self-contained tarball: ESM, declarations, nothing from outside sdk/', { timeout: 300_000 }, async () => {
    const dest = join(project, 'pack');
    await mkdir(dest);
    const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', dest], { cwd: join(REPO_ROOT, 'sdk'), maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(dest, packed!.filename);
    const files = packed!.files.map((f) => f.path);
    assert.ok(files.includes('dist/index.js'));
    assert.ok(files.includes('dist/types/sdk/src/index.d.ts'));
    assert.ok(
      files.some((f) => f.startsWith('dist/types/core/')),
      'the core declarations it needs ship inside',
    );
    assert.ok(!files.some((f) => f.startsWith('src/')), 'sources stay out');
    const bundle = await readFile(join(REPO_ROOT, 'sdk', 'dist', 'index.js'), 'utf8');
    assert.doesNotMatch(bundle, /from\s*["']node:|from\s*["']\.\.?\//, 'no Node built-in, no relative import out of the bundle');
  });

  it('installs into a fresh project with its dependencies from the registry', { timeout: 600_000 }, async () => {
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module' }));
    await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--no-save', tarball], { cwd: project, maxBuffer: 64 * 1024 * 1024 });
    assert.ok(existsSync(join(project, 'node_modules', '@proofgate', 'sdk', 'dist', 'index.js')));
    assert.ok(existsSync(join(project, 'node_modules', 'onnxruntime-web', 'dist')), 'onnxruntime-web came from the registry');
    assert.ok((await readdir(join(project, 'node_modules', 'viem'))).length > 0);
  });

  it('types a TypeScript consumer with its declarations', { timeout: 300_000 }, async () => {
    await writeFile(join(project, 'typed.ts'), TYPED_CONSUMER);
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ['typed.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', project], { cwd: project }).catch((err: { stdout?: string }) => assert.fail(err.stdout ?? String(err)));
  });

  it('calls a free model, verifies receipts, refuses tampered ones, and re-executes with onnxruntime-web', { timeout: 600_000 }, async () => {
    await writeFile(join(project, 'consumer.mjs'), CONSUMER);
    // The machine's own Node (20 here) when it has one: the SDK's oldest supported runtime.
    const node = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
    const { stdout } = await run(node, ['consumer.mjs', stack.gateway], { cwd: project, maxBuffer: 16 * 1024 * 1024 });
    const report = JSON.parse(stdout.trim().split('\n').pop()!);

    assert.equal(report.transport, 'binary', 'the gateway offers binary replies and the SDK takes them');
    assert.deepEqual(report.sum.slice(0, 3), [1.25, 2.5, 3.75]);
    assert.equal(report.verification.valid, true);
    assert.deepEqual(report.offline.reasons, []);
    assert.equal(report.tampered.valid, false);
    assert.ok(report.tampered.reasons.includes('signer_mismatch'), report.tampered.reasons.join());
    assert.deepEqual(report.alteredOutputs.reasons, ['output_hash_mismatch']);

    assert.equal(report.honest.matches, true, report.honest.reasons.join());
    assert.equal(report.honest.exact, true);
    assert.equal(report.honest.modelVerified, true);
    assert.equal(report.altered.matches, false);
    assert.ok(report.altered.reasons.includes('output_hash_mismatch'));
    assert.equal(report.forged.matches, false, 'a receipt claiming other outputs is not reproduced');
    assert.ok(report.forged.reasons.includes('output_differs'));

    assert.deepEqual(report.ocr, { dims: [1, 1, 32, 32], valid: true });
    assert.equal(report.ocrReexec.matches, true, report.ocrReexec.reasons.join());
    assert.ok(report.ocrReexec.maxAbsDiff < 1e-5);

    assert.deepEqual(report.untrusted, { refused: true, code: 'receipt_rejected', reasons: ['untrusted_backend'] });
    assert.deepEqual(report.notFound, { isClass: true, code: 'model_not_found', status: 404 });
    assert.equal(report.mediaType, 'application/vnd.proofgate.tensors');
  });
});
