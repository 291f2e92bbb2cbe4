import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Command } from 'commander';
import { REPO_ROOT } from '../../local-stack/demo-models';
import type { LocalStackFile } from '../../local-stack/stack-file';
import { testModels } from '../../scripts/generate-test-models';
import { SHARED_STACK_ENV, sharedStack } from '../support/test-stack';
import { proofgateProgram } from '../../cli/program';
import { pollUntil } from '../support/poll';
import { createPublicClient, http } from 'viem';
import { anvilDevAccounts } from '../../chain/anvil';
import { deployOperatorRegistry } from '../../chain/operator-registry';
import { readRegistrySnapshot } from '../../core/attestation';

// The `proofgate` command end to end against the real stack: publish a model (in one request, and
// as a multipart upload), call it, verify and re-execute its receipt, pay for a priced and a metered
// call, and fail with the server's code.

let stack: LocalStackFile;
let dir: string;
let stackFile: string;
const salt = `-${Date.now().toString(36)}`;
const free = `cli-mlp${salt}`;
const priced = `cli-mlp-paid${salt}`;
const metered = `cli-mlp-metered${salt}`;
const large = `cli-ocr-rec${salt}`;
// A real 10.8 MB model: in 5 MiB parts, a multipart upload of three parts.
const LARGE_MODEL = join(REPO_ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `proofgate …` as a user would; never throws on a non-zero exit. */
function proofgate(args: string[], opts: { bin?: boolean } = {}): Promise<Run> {
  const argv = opts.bin
    ? [join(REPO_ROOT, 'cli', 'proofgate.mjs'), ...args]
    : ['--import', 'tsx', join(REPO_ROOT, 'cli', 'proofgate.ts'), '--stack-file', stackFile, ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { cwd: dir, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

before(async () => {
  stack = await sharedStack();
  dir = await mkdtemp(join(tmpdir(), 'proofgate-cli-'));
  stackFile = process.env[SHARED_STACK_ENV] ?? join(dir, 'local-stack.json');
  if (!process.env[SHARED_STACK_ENV]) await writeFile(stackFile, JSON.stringify(stack));
  const mlp = testModels(salt).find((m) => m.name === 'tiny-batch')!;
  await writeFile(join(dir, 'mlp.onnx'), mlp.bytes);
  await writeFile(
    join(dir, 'inputs.json'),
    JSON.stringify({ inputs: { x: { type: 'float32', dims: [2, 32], data: Array.from({ length: 64 }, (_, i) => Math.cos(i / 5)) } } }),
  );
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('proofgate CLI', () => {
  it('is the package bin, and every command has --help with an example', { timeout: 300_000 }, async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
    assert.equal(pkg.bin.proofgate, 'cli/proofgate.mjs');
    const top = await proofgate(['--help'], { bin: true });
    assert.equal(top.code, 0, top.stderr);
    for (const c of ['models', 'infer', 'receipts', 'policies', 'intents', 'attestations', 'backend', 'operator', 'stack'])
      assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
    // Every command of the tree, walked in this process: its --help ends with an example of itself.
    const walk = (cmd: Command, path: string[]): void => {
      let text = '';
      cmd.configureOutput({ writeOut: (t) => (text += t), writeErr: (t) => (text += t) });
      cmd.outputHelp();
      const name = [...path, cmd.name()].slice(1).join(' ');
      assert.match(text, /Examples?:\n/, `proofgate ${name} --help shows an example`);
      const own = text.slice(text.search(/Examples?:\n/));
      assert.match(own, new RegExp(`proofgate ${name}`.replace(/ $/, '')), `the example of "${name}" uses it`);
      for (const sub of cmd.commands) if (sub.name() !== 'help') walk(sub, [...path, cmd.name()]);
    };
    const program = proofgateProgram();
    walk(program, []);
    const leaves = program.commands.flatMap((c) => (c.commands.length ? c.commands.map((l) => `${c.name()} ${l.name()}`) : [c.name()]));
    for (const required of [
      'models publish',
      'models list',
      'infer',
      'receipts get',
      'receipts verify',
      'receipts reexec',
      'policies create',
      'policies eval',
      'policies test',
      'intents submit',
      'attestations verify',
      'attestations consume',
      'backend start',
      'backend drain',
      'operator start',
      'operator register',
      'operator list',
      'operator stake',
      'stack status',
    ]) {
      assert.ok(leaves.includes(required), required);
    }
  });

  it('publishes a model, calls it, verifies and re-executes its receipt', { timeout: 600_000 }, async () => {
    const published = await proofgate(['--json', 'models', 'publish', join(dir, 'mlp.onnx'), '--name', free]);
    assert.equal(published.code, 0, published.stderr);
    const model = JSON.parse(published.stdout);
    assert.equal(model.name, free);
    assert.equal(model.created, true);
    assert.deepEqual(model.inputs, [{ name: 'x', type: 'float32', dims: [null, 32] }]);

    const listed = await proofgate(['models', 'list']);
    assert.match(listed.stdout, new RegExp(`${free}\\s+1\\s+free\\s+${model.sha256}`));

    const call = await proofgate(['infer', free, '--input', 'inputs.json', '--save', 'call.json']);
    assert.equal(call.code, 0, call.stderr);
    assert.match(call.stdout, /verified\s+yes: signed by registered backend 0x[0-9a-fA-F]{40}/);
    assert.match(call.stdout, /y\s+float32\[2, 8\]/);
    const saved = JSON.parse(await readFile(join(dir, 'call.json'), 'utf8'));
    assert.equal(saved.receipt.model, free);
    assert.equal(saved.receipt.modelSha256, model.sha256);

    const asJson = await proofgate(['--json', 'infer', free, '--input', 'inputs.json']);
    assert.equal(JSON.parse(asJson.stdout).outputs.y.dims.join(), '2,8');

    const verified = await proofgate(['receipts', 'verify', 'call.json']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    assert.match(verified.stdout, /verdict\s+valid/);
    assert.match(verified.stdout, /inputs, outputs/);

    // The stored receipt, by id (persisted just after the answer).
    const byId: Run = await pollUntil(
      `receipt ${saved.receipt.requestId} to be stored`,
      () => proofgate(['--json', 'receipts', 'verify', saved.receipt.requestId]),
      (r) => r.code === 0,
      { timeoutMs: 30_000 },
    );
    assert.equal(JSON.parse(byId.stdout).valid, true, byId.stdout + byId.stderr);

    const reexec = await proofgate(['receipts', 'reexec', 'call.json']);
    assert.equal(reexec.code, 0, reexec.stdout + reexec.stderr);
    assert.match(reexec.stdout, /verdict\s+matches/);
    assert.match(reexec.stdout, /onnxruntime-web \(wasm\)/);

    // Altered outputs: verification and re-execution both refuse them, and exit non-zero.
    saved.outputs.y.data[0] = Number(saved.outputs.y.data[0]) + 1;
    await writeFile(join(dir, 'altered.json'), JSON.stringify(saved));
    const refused = await proofgate(['receipts', 'verify', 'altered.json']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /verdict\s+INVALID[\s\S]*output_hash_mismatch/);
    const notReproduced = await proofgate(['receipts', 'reexec', 'altered.json']);
    assert.equal(notReproduced.code, 1);
    assert.match(notReproduced.stdout, /DOES NOT MATCH/);
  });

  it('pays for a priced call within --max-price, and refuses above it', { timeout: 300_000 }, async () => {
    const published = await proofgate(['--json', 'models', 'publish', join(dir, 'mlp.onnx'), '--name', priced, '--price', '1500']);
    assert.equal(published.code, 0, published.stderr);
    assert.equal(JSON.parse(published.stdout).price, '1500');

    const unpaid = await proofgate(['infer', priced, '--input', 'inputs.json']);
    assert.equal(unpaid.code, 1);
    assert.match(unpaid.stderr, /^error price_above_max \(HTTP 402\): .*1500.*--max-price/m);

    const tooCheap = await proofgate(['infer', priced, '--input', 'inputs.json', '--max-price', '1499']);
    assert.equal(tooCheap.code, 1);
    assert.match(tooCheap.stderr, /price_above_max/);

    const paid = await proofgate(['--json', 'infer', priced, '--input', 'inputs.json', '--max-price', '1500']);
    assert.equal(paid.code, 0, paid.stderr);
    const reply = JSON.parse(paid.stdout);
    assert.equal(reply.payment.amount, '1500');
    assert.equal(reply.payment.state, 'settled');
    assert.match(reply.payment.transaction, /^0x[0-9a-f]{64}$/);
    assert.equal(reply.verification.valid, true);
  });

  it('publishes a large model as a multipart upload, with its progress bar', { timeout: 600_000 }, async () => {
    const published = await proofgate(['--json', 'models', 'publish', LARGE_MODEL, '--name', large, '--part-bytes', String(5 * 1024 * 1024)]);
    assert.equal(published.code, 0, published.stderr);
    const model = JSON.parse(published.stdout);
    const bytes = await readFile(LARGE_MODEL);
    assert.equal(model.size, bytes.length);
    assert.equal(model.sha256, `0x${createHash('sha256').update(bytes).digest('hex')}`, 'the gateway stored the bytes sent');
    assert.equal(model.created, true);
    assert.match(published.stderr, new RegExp(`uploading ${large} \\[[^\\]]*\\] 100% \\| ${bytes.length}/${bytes.length} bytes`));
    const shown = await proofgate(['models', 'show', large]);
    assert.match(shown.stdout, new RegExp(`1\\s+free\\s+${bytes.length}\\s+${model.sha256}`));
    // A part size the gateway would refuse is refused before anything is stored.
    const tooSmall = await proofgate(['models', 'publish', LARGE_MODEL, '--name', `${large}-x`, '--part-bytes', '1048576']);
    assert.equal(tooSmall.code, 1);
    assert.match(tooSmall.stderr, /partBytes must be from 5242880/);
  });

  it('publishes a metered model and pays for a call with x402 upto: charged what the receipt signs, at most the cap', {
    timeout: 300_000,
  }, async () => {
    const terms = ['--metered', '--rate-per-ms', '3', '--base', '20', '--cap', '2000'];
    const bad = await proofgate(['models', 'publish', join(dir, 'mlp.onnx'), '--name', metered, '--metered', '--cap', '2000']);
    assert.equal(bad.code, 2, 'a metered model needs a rate');
    const published = await proofgate(['--json', 'models', 'publish', join(dir, 'mlp.onnx'), '--name', metered, ...terms]);
    assert.equal(published.code, 0, published.stderr);
    const model = JSON.parse(published.stdout);
    assert.deepEqual([model.pricing, model.ratePerMs, model.base, model.price], ['metered', '3', '20', '2000']);
    const listed = await proofgate(['models', 'list']);
    assert.match(listed.stdout, new RegExp(`${metered}\\s+1\\s+20 \\+ 3/ms, at most 2000 units \\(metered\\)`));

    const below = await proofgate(['infer', metered, '--input', 'inputs.json', '--max-price', '1999']);
    assert.equal(below.code, 1);
    assert.match(below.stderr, /price_above_max.*2000/);

    const paid = await proofgate(['infer', metered, '--input', 'inputs.json', '--max-price', '2000', '--save', 'metered.json']);
    assert.equal(paid.code, 0, paid.stderr);
    const saved = JSON.parse(await readFile(join(dir, 'metered.json'), 'utf8'));
    const charged = saved.receipt.charged;
    assert.equal(saved.receipt.paymentScheme, 'upto');
    assert.equal(charged, String(Math.min(2000, 20 + 3 * saved.receipt.runMs)));
    assert.match(
      paid.stdout,
      new RegExp(`payment\\s+${charged} of at most 2000 units \\(upto\\) of 0x[0-9a-fA-F]{40} on eip155:\\d+: settled \\(tx 0x[0-9a-f]{64}\\)`),
    );
    const verified = await proofgate(['receipts', 'verify', 'metered.json']);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });

  it("prints the server's code and message and exits non-zero on errors", { timeout: 120_000 }, async () => {
    const missing = await proofgate(['infer', 'no-such-model', '--input', 'inputs.json']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error model_not_found \(HTTP 404\): no model named "no-such-model"/m);
    const denied = await proofgate(['--admin-token', 'wrong', 'models', 'publish', join(dir, 'mlp.onnx'), '--name', `${free}-x`]);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error \w+ \(HTTP 401\)/m);
    const usage = await proofgate(['infer', free]);
    assert.equal(usage.code, 2, 'a usage mistake exits 2');
    const drain = await proofgate(['backend', 'drain', '--pid', '999999']);
    assert.equal(drain.code, 2);
    assert.match(drain.stderr, /no process 999999/);
    await writeFile(join(dir, 'attestation.json'), JSON.stringify({ digest: `0x${'11'.repeat(32)}`, chainId: 31337 }));
    const unsigned = await proofgate(['attestations', 'consume', 'attestation.json'], {});
    assert.equal(unsigned.code, 2, 'consuming needs the policy client key');
    assert.match(unsigned.stderr, /policy client's key/);
  });

  it('registers a signer node, stakes it in an OperatorRegistry on chain, and takes it out again', { timeout: 300_000 }, async () => {
    // A registry of its own on the stack's chain, owned by the chain's dev account 0.
    const owner = anvilDevAccounts(1)[0]!;
    const registry = await deployOperatorRegistry(stack.chain!.rpc, owner.privateKey);
    await writeFile(join(dir, 'owner.key'), `${owner.privateKey}\n`, { mode: 0o600 });
    const id = `cli-op${salt}`;
    const registered = await proofgate(['--json', 'operator', 'register', '--key-file', 'op.bls.key', '--url', 'https://signer.invalid', '--id', id]);
    assert.equal(registered.code, 0, registered.stderr);
    const node = JSON.parse(registered.stdout);
    assert.deepEqual([node.id, node.created], [id, true]);

    const onChain = ['--chain-rpc', stack.chain!.rpc, '--registry', registry, '--owner-key-file', 'owner.key'];
    const joined = await proofgate(['--json', 'operator', 'stake', id, '7', ...onChain]);
    assert.equal(joined.code, 0, joined.stderr);
    const first = JSON.parse(joined.stdout);
    assert.equal(first.joined, true, 'not in the registry yet: joins with the key its node registered');
    const chain = createPublicClient({ transport: http(stack.chain!.rpc) });
    const at = (block: number) => readRegistrySnapshot(chain, registry, block);
    assert.deepEqual(
      (await at(first.block)).operators.map((o) => [o.id, o.blsPublicKey, o.stake]),
      [[id, node.blsPublicKey, 7n]],
    );

    const out = await proofgate(['--json', 'operator', 'stake', id, '0', ...onChain]);
    assert.equal(out.code, 0, out.stderr);
    const second = JSON.parse(out.stdout);
    assert.equal(second.joined, false);
    assert.deepEqual((await at(second.block)).operators, [], 'stake 0: no member from then on');
    assert.equal((await at(first.block)).operators[0]?.stake, 7n, 'the earlier snapshot keeps its stake');

    const noOwner = await proofgate(['operator', 'stake', id, '1', '--chain-rpc', stack.chain!.rpc, '--registry', registry]);
    assert.equal(noOwner.code, 2, "another registry than the stack's needs its owner's key");
  });

  it('shows the stack status', { timeout: 120_000 }, async () => {
    const status = await proofgate(['--json', 'stack', 'status']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout);
    assert.equal(s.health.ok, true);
    assert.ok(s.backends.length >= 1 && s.backends.every((b: { healthy: boolean }) => b.healthy));
    assert.ok(s.models.some((m: { name: string }) => m.name === 'ppocr-det'));
    const operators = await proofgate(['--json', 'operator', 'list']);
    assert.equal(operators.code, 0, operators.stderr);
    const set = JSON.parse(operators.stdout);
    assert.ok(Array.isArray(set.operators) && 'registry' in set, 'the registry block and the operators');
  });
});
