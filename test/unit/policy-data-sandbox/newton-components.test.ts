import assert from 'node:assert/strict';
import { mkdtemp, readdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildNewtonComponent, buildNewtonWatComponent } from '../../../policies/policy-data/newton-components';
import type { BuiltPolicyData } from '../../../policies/policy-data/build';
import { ComponentCache, runPolicyData, type PolicyDataError, type RunPolicyDataOptions } from '../../../signer-node/policy-data-sandbox';

// Newton PolicyData components (newton:provider 0.2.0 from JavaScript with componentize-js, 0.1.0
// from WebAssembly text wrapped into a component), run by the sandbox as operators run them.

const API_KEY = 'sk_screening_4c1f7e9a2b';
const SEED = new Uint8Array(32).fill(7);
const CONTEXT = { nowUnixSeconds: 1_790_000_000, seed: SEED };

let screening: BuiltPolicyData;
let probe: BuiltPolicyData;
let v01: BuiltPolicyData;
let components: ComponentCache;
let server: Server;
let host: string;
const hits: IncomingMessage[] = [];

before(async () => {
  [screening, probe, v01] = await Promise.all([
    buildNewtonComponent('screening'),
    buildNewtonComponent('limits-probe'),
    buildNewtonWatComponent('status-v01'),
  ]);
  components = new ComponentCache(await mkdtemp(join(tmpdir(), 'newton-components-')));
  server = createServer((req, res) => {
    hits.push(req);
    if (req.url?.startsWith('/v1/screen/') && req.headers['x-api-key'] !== API_KEY) {
      res.writeHead(401).end('{"error":"bad key"}');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ sanctioned: req.url?.endsWith('dead'), risk_score: 12, signature: '0xab' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const options = (extra: RunPolicyDataOptions = {}): RunPolicyDataOptions => ({ components, context: CONTEXT, allowedHosts: [host], ...extra });

async function rejectsWith(run: Promise<unknown>, code: string): Promise<PolicyDataError> {
  const error = await run.then(
    () => assert.fail(`expected ${code}`),
    (e: PolicyDataError) => e,
  );
  assert.equal(error.code, code, error.message);
  return error;
}

describe('a JavaScript newton:provider@0.2.0 pack', () => {
  it('fetches through the host with the secret, and returns its output object', async () => {
    const address = '0x2222222222222222222222222222222222222222';
    const result = await runPolicyData(
      screening.bytes,
      { address, endpoint: `http://${host}` },
      options({ secrets: { SCREENING_API_KEY: API_KEY } }),
    );
    assert.equal(result.kind, 'component');
    assert.equal(result.world, '0.2.0');
    assert.deepEqual(result.output, {
      screening: { address, sanctioned: false, risk_score: 12, signature: '0xab', checked_at: CONTEXT.nowUnixSeconds },
    });
    assert.equal(result.httpCalls.length, 1);
    assert.equal(result.httpCalls[0]!.request.url, `http://${host}/v1/screen/${address}`);
    assert.equal(result.httpCalls[0]!.request.headers['x-api-key'], '[redacted]', 'the secret is not kept in the recording');
    assert.equal(hits.at(-1)!.headers['x-api-key'], API_KEY, 'the data source got the real key');
  });

  it('reads its wasm_args under its pack id too, as Newton composites pass them', async () => {
    const args = { screening: { address: '0x000000000000000000000000000000000000dEaD', endpoint: `http://${host}` }, other: { x: 1 } };
    const result = await runPolicyData(screening.bytes, args, options({ secrets: { SCREENING_API_KEY: API_KEY } }));
    assert.equal((result.output as { screening: { sanctioned: boolean } }).screening.sanctioned, true);
  });

  it('computes the same output on every run: the clock is the task’s, nothing else varies', async () => {
    const args = { address: '0x2222222222222222222222222222222222222222', endpoint: `http://${host}` };
    const runs = await Promise.all([1, 2].map(() => runPolicyData(screening.bytes, args, options({ secrets: { SCREENING_API_KEY: API_KEY } }))));
    assert.deepEqual(runs[0]!.output, runs[1]!.output);
  });

  it('gets a clear error from secrets.get when the policy client stored none', async () => {
    const error = await rejectsWith(runPolicyData(screening.bytes, { address: '0x22', endpoint: `http://${host}` }, options()), 'module_error');
    assert.match(error.message, /unknown_secret: no secrets are stored/);
  });

  it('keeps the transpiled component on disk by sha256, and reuses it', async () => {
    const entries = await readdir(components.dir);
    assert.ok(
      entries.some((e) => e.startsWith(`${screening.sha256}-m`)),
      entries.join(', '),
    );
    const again = await new ComponentCache(components.dir).prepare(screening.bytes, 1024);
    assert.equal(again.sha256, screening.sha256);
    assert.equal(again.world.version, '0.2.0');
  });
});

describe('bounds', () => {
  it('stops a component that loops, at the timeout', async () => {
    const error = await rejectsWith(runPolicyData(probe.bytes, { mode: 'loop' }, options({ timeoutMs: 300 })), 'timeout');
    assert.match(error.message, /did not finish within 300 ms/);
  });

  it('stops a component that allocates without end, at its memory cap', async () => {
    const error = await rejectsWith(
      runPolicyData(probe.bytes, { mode: 'allocate' }, options({ maxComponentMemoryPages: 512, timeoutMs: 20_000 })),
      'memory_limit',
    );
    assert.match(error.message, /memory limit of 512 pages/);
  });

  it('refuses a component whose memory starts above the cap', async () => {
    const error = await rejectsWith(runPolicyData(probe.bytes, { mode: 'ok' }, options({ maxComponentMemoryPages: 64 })), 'memory_limit');
    assert.match(error.message, /above the limit of 64 pages/);
  });

  it('stops a component that fetches a host outside the allow-list, before anything is sent', async () => {
    const before = hits.length;
    const error = await rejectsWith(runPolicyData(probe.bytes, { mode: 'fetch', url: 'http://127.0.0.2:9/x' }, options()), 'host_not_allowed');
    assert.match(error.message, /fetched 127\.0\.0\.2:9, which is not among the operator's allowed hosts/);
    assert.equal(hits.length, before);
    assert.deepEqual(error.httpCalls[0]!.error?.code, 'host_not_allowed');
  });

  it('refuses components larger than the limit', async () => {
    await rejectsWith(runPolicyData(probe.bytes, { mode: 'ok' }, options({ maxComponentBytes: 1 << 20 })), 'invalid_module');
  });
});

describe('the host a component sees', () => {
  it('answers tlsn with a clear error until it is implemented', async () => {
    const error = await rejectsWith(runPolicyData(probe.bytes, { mode: 'tlsn' }, options()), 'module_error');
    assert.match(error.message, /^tlsn_unavailable: /);
  });

  it('serves clock, randomness and stdout deterministically from the task', async () => {
    const run = (seed: Uint8Array) => runPolicyData(probe.bytes, { mode: 'environment' }, options({ context: { ...CONTEXT, seed } }));
    const [a, b, other] = await Promise.all([run(SEED), run(SEED), run(new Uint8Array(32))]);
    const out = (r: typeof a) => (r.output as { probe: { now: number; random: number[]; bytes: number[] } }).probe;
    assert.deepEqual(a.output, b.output);
    assert.equal(out(a).now, CONTEXT.nowUnixSeconds * 1000);
    assert.notDeepEqual(out(a).random, out(other).random, 'the seed drives randomness');
    assert.deepEqual(a.logs.filter(Boolean), ['probe log line']);
  });

  it('serves all of the policy client’s secrets to secrets.get, loading them only when read', async () => {
    let loads = 0;
    const secrets = async () => {
      loads++;
      return { B_KEY: 'b-value-1234', A_KEY: 'a-value-5678' };
    };
    const result = await runPolicyData(probe.bytes, { mode: 'secrets' }, options({ secrets }));
    assert.deepEqual(result.output, { probe: { names: ['A_KEY', 'B_KEY'] } });
    await runPolicyData(probe.bytes, { mode: 'ok' }, options({ secrets }));
    assert.equal(loads, 1);
  });

  describe('reports run’s err as module_error, a JavaScript exception as a trap, and non-object output as invalid', () => {
    it('run’s err: module_error with its message', async () => {
      assert.match((await rejectsWith(runPolicyData(probe.bytes, { mode: 'fail' }, options()), 'module_error')).message, /asked to fail/);
    });

    for (const [mode, code] of [
      ['throw', 'module_trap'],
      ['not-json', 'invalid_output'],
      ['array', 'invalid_output'],
    ] as const) {
      it(`mode ${mode}: ${code}`, async () => {
        await rejectsWith(runPolicyData(probe.bytes, { mode }, options()), code);
      });
    }
  });
});

describe('a newton:provider@0.1.0 component wrapped from a core module', () => {
  it('runs, fetching through the host', async () => {
    const result = await runPolicyData(v01.bytes, `http://${host}/status`, options());
    assert.equal(result.world, '0.1.0');
    assert.deepEqual(result.output, { v01: { status: 200, bytes: JSON.stringify({ sanctioned: false, risk_score: 12, signature: '0xab' }).length } });
  });

  it('is stopped when it fetches outside the allow-list too', async () => {
    await rejectsWith(runPolicyData(v01.bytes, 'http://10.1.2.3/status', options()), 'host_not_allowed');
  });
});
