import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { canonicalJson } from '../../../core/canonical-json';
import { runPolicyData, type HttpCall, type PolicyDataError, type PolicyDataFetch } from '../../../signer-node/policy-data-sandbox';
import { buildPolicyData, compileWat } from '../../../policies/policy-data/build';

const SECRET = 'pk_live_7f3a9c1e5b2d4a60';
const intent = {
  chainId: 1,
  from: '0x5b38da6a701c568545dcfcb03fcb875f56beddc4',
  to: '0xab8483f64d9c6d1ecf9b849ae677dd3315835cb2',
  value: '250000000000000000',
  data: `0xa9059cbb${'00'.repeat(64)}`,
};

/** A module with the ABI exports whose `run` is given; `alloc` hands out memory from 1024 up. */
const abiModule = (run: string, extra = ''): Promise<Uint8Array> =>
  compileWat(`(module
  (import "proofgate" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (import "proofgate" "secrets_get" (func $secret (param i32 i32) (result i64)))
  (import "proofgate" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (global.get $heap)
    (global.set $heap (i32.add (global.get $heap) (local.get $len))))
  ${extra}
  (func (export "run") (param $in i32) (param $len i32) (result i64) ${run}))`);

/** Rejects with a PolicyDataError of this code; returns it for further checks. */
async function rejectsWith(run: Promise<unknown>, code: string): Promise<PolicyDataError> {
  const error = await run.then(
    () => assert.fail(`expected ${code}`),
    (e: PolicyDataError) => e,
  );
  assert.equal(error.code, code, error.message);
  return error;
}

/** Local HTTP servers: `price` answers 200 only with the right API key; `hang` never answers. */
interface TestServer {
  server: Server;
  host: string;
  hits: IncomingMessage[];
}
async function listen(handle: (req: IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<TestServer> {
  const hits: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    hits.push(req);
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, host: `127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe('runPolicyData', () => {
  let intentRisk: Uint8Array;
  let priceFeed: Uint8Array;
  let price: TestServer;
  let other: TestServer;

  before(async () => {
    [intentRisk, priceFeed] = await Promise.all([buildPolicyData('intent-risk'), buildPolicyData('price-feed')]).then((b) => b.map((m) => m.bytes));
    price = await listen((req, res) => {
      const authorized = req.headers['x-api-key'] === SECRET;
      res.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
      res.end(authorized ? '{"price": 1834.25}' : '{"error":"unauthorized"}');
    });
    other = await listen((_req, res) => res.end('{"price": 1}'));
  });
  after(() => {
    price.server.closeAllConnections();
    price.server.close();
    other.server.closeAllConnections();
    other.server.close();
  });

  const priceOptions = () => ({ secrets: { price_api_key: SECRET }, allowedHosts: [price.host] });

  it('intent-risk reads the intent from memory and returns its risk data', async () => {
    const result = await runPolicyData(intentRisk, intent);
    assert.deepEqual(result.output, {
      blocked: ['0x000000000000000000000000000000000000dead', '0x1111111111111111111111111111111111111111'],
      maxValueWei: '1000000000000000000',
      calldataBytes: 68,
      inputBytes: new TextEncoder().encode(canonicalJson(intent)).length,
    });
    assert.deepEqual(result.httpCalls, []);
  });

  it('intent-risk counts no calldata bytes for an intent without calldata', async () => {
    const plain = await runPolicyData(intentRisk, { ...intent, data: '0x' });
    assert.equal((plain.output as { calldataBytes: number }).calldataBytes, 0);
  });

  it('gives identical outputs on repeated runs', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => runPolicyData(intentRisk, intent)));
    for (const run of runs) assert.deepEqual(run.output, runs[0]!.output);
  });

  it('gives identical outputs on replay of the recorded HTTP responses, without a request', async () => {
    const live = await runPolicyData(priceFeed, { url: `http://${price.host}/price` }, priceOptions());
    const hitsBefore = price.hits.length;
    const recorded = live.httpCalls.map((call) => call.response!);
    const replay: PolicyDataFetch = async () => recorded.shift()!;
    const replayed = await runPolicyData(priceFeed, { url: `http://${price.host}/price` }, { ...priceOptions(), fetch: replay });
    assert.equal(replayed.output, live.output);
    assert.deepEqual(replayed.httpCalls, live.httpCalls);
    assert.equal(price.hits.length, hitsBefore, 'the replay made no request');
  });

  it('price-feed fetches the url in its input and returns the number in the body, recording the call', async () => {
    const result = await runPolicyData(priceFeed, { url: `http://${price.host}/price` }, priceOptions());
    assert.equal(result.output, 1834.25);
    assert.equal(result.httpCalls.length, 1);
    const [call] = result.httpCalls as [HttpCall];
    assert.deepEqual(call.request, { url: `http://${price.host}/price`, method: 'GET', headers: { 'x-api-key': '[redacted]' } });
    assert.equal(call.response?.status, 200);
    assert.equal(call.response?.body, '{"price": 1834.25}');
    assert.equal(call.response?.headers['content-type'], 'application/json');
    assert.deepEqual(result.logs, ['fetching price']);
  });

  // That the runtime never prints a secret is tested in a process of its own, where all its output
  // can be read: test/integration/policy-data-sandbox/secret-not-printed.test.ts.
  it('redacts a secret the module logs, so its value is never recorded', async () => {
    const logsSecret = await abiModule(
      `(local $r i64)
       (local.set $r (call $secret (i32.const 0) (i32.const 13)))
       (call $log (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))
       (i64.const 0x000000100000000B)`,
      '(data (i32.const 0) "price_api_key") (data (i32.const 16) "{\\"ok\\":true}")',
    );
    const logged = await runPolicyData(logsSecret, null, { secrets: { price_api_key: SECRET } });
    assert.equal(logged.output, true);
    assert.deepEqual(logged.logs, ['{"ok":"[redacted]"}']);
  });

  it('reports an unknown secret to the module, which fails with it', async () => {
    const error = await rejectsWith(runPolicyData(priceFeed, { url: `http://${price.host}/price` }, { allowedHosts: [price.host] }), 'module_error');
    assert.match(error.message, /^unknown_secret: no secret named "price_api_key"/);
  });

  it('refuses HTTP to a host outside allowedHosts without sending it, and records the refusal', async () => {
    const hitsBefore = other.hits.length;
    const error = await rejectsWith(runPolicyData(priceFeed, { url: `http://${other.host}/price` }, priceOptions()), 'module_error');
    assert.match(error.message, /^host_not_allowed: /);
    assert.equal(other.hits.length, hitsBefore);
    assert.equal(error.httpCalls.length, 1);
    assert.equal(error.httpCalls[0]?.error?.code, 'host_not_allowed');
    assert.equal(error.httpCalls[0]?.response, undefined);
  });

  it('allows any port of a host listed by name without a port', async () => {
    const byName = await runPolicyData(priceFeed, { url: `http://${price.host}/price` }, { ...priceOptions(), allowedHosts: ['127.0.0.1'] });
    assert.equal(byName.output, 1834.25);
  });

  it('never passes a scheme other than HTTP, even with an empty host allowed', async () => {
    const file = await rejectsWith(
      runPolicyData(priceFeed, { url: 'file:///etc/passwd' }, { ...priceOptions(), allowedHosts: ['127.0.0.1', ''] }),
      'module_error',
    );
    assert.match(file.message, /^host_not_allowed: /);
  });

  it('hands a non-200 answer to the module', async () => {
    const error = await rejectsWith(
      runPolicyData(priceFeed, { url: `http://${price.host}/price` }, { ...priceOptions(), secrets: { price_api_key: 'wrong' } }),
      'module_error',
    );
    assert.equal(error.message, 'price source did not answer 200');
    assert.equal(error.httpCalls[0]?.response?.status, 401);
  });

  describe('gives the module a coded error for bad requests, network failures and exceeded limits', () => {
    // run passes its input as the request and returns the response envelope as its result.
    let fetchInput: Uint8Array;
    before(async () => {
      fetchInput = await abiModule('(call $fetch (local.get $in) (local.get $len))');
    });
    /** A host:port that refuses connections: a server bound and closed again. */
    async function closedHost(): Promise<string> {
      const closed = await listen(() => undefined);
      await new Promise((resolve) => closed.server.close(resolve));
      return closed.host;
    }
    const cases: { name: string; request: () => Promise<[object, object]>; message: RegExp }[] = [
      { name: 'invalid_request', request: async () => [{ uri: 'http://x/' }, {}], message: /^invalid_request: / },
      {
        name: 'fetch_failed',
        request: async () => {
          const host = await closedHost();
          return [{ url: `http://${host}/` }, { allowedHosts: [host] }];
        },
        message: /^fetch_failed: /,
      },
      {
        name: 'too_many_calls',
        request: async () => [{ url: `http://${price.host}/` }, { allowedHosts: [price.host], maxHttpCalls: 0 }],
        message: /^too_many_calls: /,
      },
      {
        name: 'response_too_large',
        request: async () => [{ url: `http://${price.host}/` }, { allowedHosts: [price.host], maxHttpResponseBytes: 5 }],
        message: /^response_too_large: /,
      },
    ];
    for (const { name, request, message } of cases) {
      it(name, async () => {
        const [input, options] = await request();
        const error = await rejectsWith(runPolicyData(fetchInput, input, options), 'module_error');
        assert.match(error.message, message);
      });
    }
    it('and hands a good request its response envelope', async () => {
      const ok = await runPolicyData(fetchInput, { url: `http://${price.host}/` }, { allowedHosts: [price.host] });
      assert.deepEqual((ok.output as { status: number; body: string }).status, 401);
    });
  });

  // The per-test timeout turns a hang into a failure; the run's own timeout is what is tested.
  it('terminates an infinite loop at the timeout', { timeout: 60_000 }, async () => {
    const spin = await abiModule('(loop $forever (br $forever)) (unreachable)');
    await rejectsWith(runPolicyData(spin, null, { timeoutMs: 300 }), 'timeout');
  });

  it('terminates a run blocked in http_fetch at the timeout', { timeout: 60_000 }, async () => {
    const hang = await listen(() => undefined);
    try {
      // run passes its input, {"url": ...}, as the request and returns the response envelope.
      const fetchInput = await abiModule('(call $fetch (local.get $in) (local.get $len))');
      const error = await rejectsWith(
        runPolicyData(fetchInput, { url: `http://${hang.host}/` }, { allowedHosts: [hang.host], timeoutMs: 300 }),
        'timeout',
      );
      assert.equal(hang.hits.length, 1);
      // The call it was blocked on is recorded, with neither a response nor an error.
      assert.deepEqual(error.httpCalls, [{ request: { url: `http://${hang.host}/`, method: 'GET', headers: {} } }]);
    } finally {
      hang.server.closeAllConnections();
      hang.server.close();
    }
  });

  it('refuses non-WebAssembly bytes before running', async () => {
    await rejectsWith(runPolicyData(new TextEncoder().encode('\0asm but not really'), null), 'invalid_module');
  });

  it('refuses forbidden imports before running', async () => {
    const wasi = await compileWat(`(module (import "wasi_snapshot_preview1" "random_get" (func (param i32 i32) (result i32)))
      (memory (export "memory") 1 1) (func (export "alloc") (param i32) (result i32) (i32.const 0))
      (func (export "run") (param i32 i32) (result i64) (i64.const 0)))`);
    await rejectsWith(runPolicyData(wasi, null), 'forbidden_import');
  });

  it('refuses a too-large memory before running', async () => {
    await rejectsWith(runPolicyData(intentRisk, intent, { maxMemoryPages: 8 }), 'memory_limit');
  });

  it('maps a trap to module_trap', async () => {
    await rejectsWith(runPolicyData(await abiModule('(unreachable)'), null), 'module_trap');
  });

  it('maps an error the module returns to module_error with its message', async () => {
    const err = '{"err":"no data for this intent"}';
    const reported = await rejectsWith(
      runPolicyData(await abiModule(`(i64.const ${err.length})`, `(data (i32.const 0) ${JSON.stringify(err)})`), null),
      'module_error',
    );
    assert.equal(reported.message, 'no data for this intent');
  });

  it('maps a result outside memory to invalid_output', async () => {
    await rejectsWith(runPolicyData(await abiModule('(i64.const 0x0000FFF000000100)'), null), 'invalid_output');
  });

  it('maps a result that is not an object with ok or err to invalid_output', async () => {
    await rejectsWith(runPolicyData(await abiModule('(i64.const 7)', '(data (i32.const 0) "[1,2,3]")'), null), 'invalid_output');
  });

  it('maps an output over maxOutputBytes to output_too_large', async () => {
    await rejectsWith(runPolicyData(intentRisk, intent, { maxOutputBytes: 64 }), 'output_too_large');
  });
});
