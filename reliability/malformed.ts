import { countChanges, storedCounts } from './stored-counts';
import { addBody } from './payments';
import { bounded, send, sendLarge, type Answer, type SuiteContext } from './suite-context';

/** Figures of the malformed-input section. */
export interface MalformedFigures {
  routes: number;
  requests: number;
  byClass: Record<string, number>;
  fiveHundreds: number;
  /** Error answers (≥ 400) without a stable code. */
  codeless: number;
  /** 2xx answers to a malformed request. */
  accepted: number;
  stateChanged: number;
  stateChanges: string[];
  examples: { fiveHundreds: string[]; codeless: string[]; accepted: string[]; noAnswer: string[] };
  /** Requests the server closed without an answer (oversized bodies: workerd answers 413 and closes before the body is sent). */
  noAnswer: number;
  seconds: number;
}

interface Route {
  method: string;
  path: string;
  who: 'admin' | 'operator' | null;
}

interface BadRequest {
  what: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** Path parameter values no route takes: broken percent-encodings, NUL, traversal, overlong UTF-8, bidi, huge, SQL. */
const BAD_SEGMENTS = [
  '%',
  '%ZZ',
  '%00',
  '%2e%2e%2f%2e%2e%2fetc',
  '%C0%AF',
  '%E2%80%AE',
  '%F0%9F%98%80',
  'x'.repeat(5000),
  "'%3BDROP%20TABLE%20models%3B--",
];

/** Bodies no JSON route takes. */
const BAD_JSON: [string, string | Uint8Array][] = [
  ['truncated JSON', '{"inputs": {"a": {"type": "float32", "dims": [1, 4], "data": [1, 2'],
  ['invalid JSON', '{"a": ]'],
  ['array', '[]'],
  ['number', '42'],
  ['string', '"body"'],
  ['null', 'null'],
  ['wrong field types', '{"inputs": 5, "intent": [], "policyId": 7, "attestation": "x", "registration": 1, "heartbeat": null, "modules": 3}'],
  ['deep nesting', `${'['.repeat(200_000)}${']'.repeat(200_000)}`],
  ['deep object nesting', `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`],
  ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])],
  ['huge number', '{"waitMs": 1e999, "deadlineSeconds": -1e308}'],
  ['prototype pollution', '{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}'],
];

/** Inference bodies that fit JSON but not the model (tiny-add: a, b float32 [1, 4]). */
function badInferBodies(): [string, string][] {
  const t = (a: unknown, b: unknown = { type: 'float32', dims: [1, 4], data: [1, 1, 1, 1] }) => JSON.stringify({ inputs: { a, b } });
  return [
    ['negative dims', t({ type: 'float32', dims: [-1, 4], data: [1, 2, 3, 4] })],
    ['huge dims', t({ type: 'float32', dims: [1, 2 ** 53], data: [1, 2, 3, 4] })],
    ['overflowing dims', t({ type: 'float32', dims: [4294967296, 4294967296, 4294967296], data: [1] })],
    ['fractional dims', t({ type: 'float32', dims: [1.5, 4], data: [1, 2, 3, 4] })],
    ['dims as strings', t({ type: 'float32', dims: ['1', '4'], data: [1, 2, 3, 4] })],
    ['data shorter than dims', t({ type: 'float32', dims: [1, 4], data: [1, 2, 3] })],
    ['data longer than dims', t({ type: 'float32', dims: [1, 4], data: [1, 2, 3, 4, 5] })],
    ['wrong element type', t({ type: 'int64', dims: [1, 4], data: [1, 2, 3, 4] })],
    ['unknown element type', t({ type: 'float128', dims: [1, 4], data: [1, 2, 3, 4] })],
    ['strings as floats', t({ type: 'float32', dims: [1, 4], data: ['a', 'b', 'c', 'd'] })],
    [
      'nested data',
      t({
        type: 'float32',
        dims: [1, 4],
        data: [
          [1, 2],
          [3, 4],
        ],
      }),
    ],
    ['missing input', JSON.stringify({ inputs: { a: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] } } })],
    ['unknown input', JSON.stringify({ inputs: { a: {}, b: {}, c: { type: 'float32', dims: [1], data: [1] } } })],
    ['rank mismatch', t({ type: 'float32', dims: [4], data: [1, 2, 3, 4] })],
    ['shape mismatch', t({ type: 'float32', dims: [2, 2], data: [1, 2, 3, 4] })],
    ['no inputs', '{}'],
  ];
}

/** The routes the gateway lists about itself (GET /, read from its router). */
async function routeList(ctx: SuiteContext): Promise<Route[]> {
  const index = await send(`${ctx.stack.gateway}/`, { headers: { accept: 'application/json' } });
  const endpoints = (index.body as { endpoints?: string[] }).endpoints;
  if (!endpoints?.length) throw new Error(`GET / listed no endpoints: ${index.status}`);
  return endpoints.map((e) => {
    const [method, path] = e.split(' ') as [string, string];
    const who = /\(.*admin.*\)/.test(e) ? 'admin' : /\(.*operator.*\)/.test(e) ? 'operator' : null;
    return { method, path, who };
  });
}

/** A route's path with its parameters filled with plausible values (a model that exists, well-formed ids). */
function plausible(path: string): string {
  return path.replace(/\{([^}]+)\}/g, (_m, name: string) =>
    name === 'name'
      ? 'tiny-add'
      : name === 'version' || name === 'partNumber'
        ? '1'
        : name === 'policyClient'
          ? '0x0000000000000000000000000000000000000001'
          : `0x${'ab'.repeat(32)}`,
  );
}

function badRequests(routes: Route[], adminToken: string, operatorToken: string, takesBody: (r: Route) => boolean): BadRequest[] {
  const out: BadRequest[] = [];
  for (const r of routes) {
    const auth: Record<string, string> =
      r.who === 'admin' ? { authorization: `Bearer ${adminToken}` } : r.who === 'operator' ? { authorization: `Bearer ${operatorToken}` } : {};
    const params = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    // Every parameter bent, with the route's credentials so the bad value itself is judged.
    for (const p of params) {
      for (const seg of BAD_SEGMENTS) {
        const path = plausible(r.path.replace(`{${p}}`, seg));
        out.push({
          what: `${r.method} ${r.path}: ${p}=${seg.slice(0, 24)}`,
          method: r.method,
          path,
          headers: auth,
          ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: '{}' }),
        });
      }
    }
    // Bodies only where the route reads one (OpenAPI's requestBody): a route that takes none ignores it.
    if ((r.method !== 'POST' && r.method !== 'PUT') || !takesBody(r)) continue;
    const path = plausible(r.path);
    for (const [what, body] of BAD_JSON) {
      out.push({ what: `${r.method} ${r.path}: ${what}`, method: r.method, path, headers: { ...auth, 'content-type': 'application/json' }, body });
    }
    out.push({
      what: `${r.method} ${r.path}: text/plain`,
      method: r.method,
      path,
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'hello',
    });
    out.push({
      what: `${r.method} ${r.path}: xml`,
      method: r.method,
      path,
      headers: { ...auth, 'content-type': 'application/xml' },
      body: '<a><b/></a>',
    });
    out.push({
      what: `${r.method} ${r.path}: multipart`,
      method: r.method,
      path,
      headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
    });
    out.push({
      what: `${r.method} ${r.path}: oversized (2 MiB of JSON)`,
      method: r.method,
      path,
      headers: { ...auth, 'content-type': 'application/json' },
      body: `{"x":"${'a'.repeat(2 * 1024 * 1024)}"}`,
    });
    if (r.who)
      out.push({
        what: `${r.method} ${r.path}: bad JSON without credentials`,
        method: r.method,
        path,
        headers: { 'content-type': 'application/json' },
        body: '{]',
      });
  }
  // Inference: bodies that misfit the model, on both protocols, and bad versions and payments.
  for (const [what, body] of badInferBodies()) {
    for (const path of ['/v1/models/tiny-add/infer', '/v1/models/paid-add/infer'])
      out.push({ what: `infer ${path}: ${what}`, method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
  }
  const kserve = (data: unknown, shape: unknown, datatype = 'FP32') =>
    JSON.stringify({
      inputs: [
        { name: 'a', shape, datatype, data },
        { name: 'b', shape: [1, 4], datatype: 'FP32', data: [1, 1, 1, 1] },
      ],
    });
  for (const [what, body] of [
    ['negative shape', kserve([1, 2, 3, 4], [-1, 4])],
    ['overflowing shape', kserve([1], [4294967296, 4294967296])],
    ['length mismatch', kserve([1, 2], [1, 4])],
    ['unknown datatype', kserve([1, 2, 3, 4], [1, 4], 'FP128')],
    ['inputs not a list', '{"inputs": {"a": 1}}'],
  ] as const) {
    out.push({ what: `kserve: ${what}`, method: 'POST', path: '/v2/models/tiny-add/infer', headers: { 'content-type': 'application/json' }, body });
  }
  for (const q of ['-1', '0', 'abc', '1e3', '99999999999999999999', '1.5', '%00', '']) {
    out.push({
      what: `infer ?version=${q}`,
      method: 'POST',
      path: `/v1/models/tiny-add/infer?version=${q}`,
      headers: { 'content-type': 'application/json' },
      body: addBody(1),
    });
  }
  out.push({
    what: 'infer: oversized (33 MiB)',
    method: 'POST',
    path: '/v1/models/tiny-add/infer',
    headers: { 'content-type': 'application/json' },
    body: new Uint8Array(33 * 1024 * 1024).fill(0x20),
  });
  out.push({
    what: 'infer: binary garbage',
    method: 'POST',
    path: '/v1/models/tiny-add/infer',
    headers: { 'content-type': 'application/vnd.proofgate.tensors' },
    body: new Uint8Array([2, 0, 0, 0, 255, 255, 255, 255, 1, 2, 3]),
  });
  out.push({
    what: 'infer: binary header declaring 2^40 bytes',
    method: 'POST',
    path: '/v1/models/tiny-add/infer',
    headers: { 'content-type': 'application/vnd.proofgate.tensors' },
    body: new Uint8Array([
      1,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      97,
      7,
      ...Buffer.from('float32'),
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
    ]),
  });
  for (const [name, value] of [
    ['payment-signature', '!!!'],
    ['payment-signature', Buffer.from('{}').toString('base64')],
    ['payment-signature', Buffer.from('[]').toString('base64')],
    ['payment-signature', Buffer.from('{"x402Version": 2, "payload": null}').toString('base64')],
    ['x-payment', Buffer.from('{"x402Version": 1, "scheme": "exact"}').toString('base64')],
    ['payment-signature', 'ÿþ\u00e9'],
    ['authorization', 'Bearer pgk_not-a-key'],
    ['authorization', 'Bearer \u00ff\u00fe'],
    ['content-type', 'application/json; charset=\u00ff'],
  ] as const) {
    out.push({
      what: `infer paid-add with ${name}: ${value.slice(0, 16)}`,
      method: 'POST',
      path: '/v1/models/paid-add/infer',
      headers: { 'content-type': 'application/json', [name]: value },
      body: addBody(1),
    });
  }
  for (const model of ['unknown-model', 'tiny-add%2F..%2Fpaid-add', 'PAID-ADD']) {
    out.push({
      what: `infer unknown model ${model}`,
      method: 'POST',
      path: `/v1/models/${model}/infer`,
      headers: { 'content-type': 'application/json' },
      body: addBody(1),
    });
  }
  // Unknown routes and methods.
  for (const [method, path] of [
    ['GET', '/v1/nope'],
    ['GET', '/v3/models'],
    ['PATCH', '/v1/models'],
    ['DELETE', '/healthz'],
    ['POST', '/v1/models'],
    ['GET', '//v1//models'],
    ['GET', '/v1/models/%2F'],
    ['PUT', '/v1/intents'],
    ['GET', '/v1/receipts?limit=-1&cursor=%ZZ'],
    ['GET', '/v1/tasks?limit=abc'],
    ['GET', '/v1/receipts?limit=99999999999999999999'],
    ['GET', `/v1/${'a/'.repeat(2000)}`],
  ] as const) {
    out.push({ what: `${method} ${path.slice(0, 40)}`, method, path, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}' }) });
  }
  return out;
}

/**
 * Hundreds of bad requests against every route the gateway lists: each must get a 4xx with a stable
 * code and change nothing stored (D1 rows, Durable Object instances and rows, R2 objects).
 */
export async function malformed(ctx: SuiteContext): Promise<MalformedFigures> {
  const started = Date.now();
  const routes = await routeList(ctx);
  const openapi = (await send(`${ctx.stack.gateway}/openapi.json`)).body as { paths?: Record<string, Record<string, { requestBody?: unknown }>> };
  const takesBody = (r: Route) => {
    const op = openapi.paths?.[r.path]?.[r.method.toLowerCase()];
    return op === undefined || op.requestBody !== undefined;
  };
  const all = badRequests(routes, ctx.stack.adminToken, ctx.stack.operatorToken, takesBody);
  // Quick runs take every kind on every route, with fewer bent segments.
  const requests = ctx.quick ? all.filter((r, i) => !r.what.includes('=') || i % 3 === 0) : all;
  // Let writes of earlier sections land (receipts after answers, settlement alarms) before the snapshot.
  await new Promise((r) => setTimeout(r, 3_000));
  const before = await storedCounts(ctx);
  const answers: { req: BadRequest; answer: Answer }[] = [];
  await bounded(requests.length, 6, started + (ctx.quick ? 120_000 : 240_000), async (i) => {
    const req = requests[i]!;
    const large = req.body !== undefined && req.body.length > 1024 * 1024;
    const answer = large
      ? await sendLarge(
          `${ctx.stack.gateway}${req.path}`,
          req.method,
          req.headers ?? {},
          typeof req.body === 'string' ? Buffer.from(req.body) : (req.body as Uint8Array),
        )
      : await send(`${ctx.stack.gateway}${req.path}`, {
          method: req.method,
          headers: req.headers ?? {},
          ...(req.body === undefined ? {} : { body: req.body as BodyInit }),
        });
    answers.push({ req, answer });
  });
  await new Promise((r) => setTimeout(r, 3_000));
  const after = await storedCounts(ctx);
  const changes = countChanges(before, after);

  const byClass: Record<string, number> = {};
  const examples = { fiveHundreds: [] as string[], codeless: [] as string[], accepted: [] as string[], noAnswer: [] as string[] };
  let fiveHundreds = 0;
  let noAnswer = 0;
  let codeless = 0;
  let accepted = 0;
  for (const { req, answer } of answers) {
    const cls = answer.status === 0 ? 'no answer' : `${Math.floor(answer.status / 100)}xx`;
    byClass[cls] = (byClass[cls] ?? 0) + 1;
    const line = `${req.what} → ${answer.status} ${answer.code ?? JSON.stringify(answer.body).slice(0, 80)}`;
    if (answer.status === 0) {
      noAnswer++;
      if (examples.noAnswer.length < 12) examples.noAnswer.push(line);
    } else if (answer.status >= 500) {
      fiveHundreds++;
      if (examples.fiveHundreds.length < 12) examples.fiveHundreds.push(line);
    } else if (answer.status >= 400 && !answer.code) {
      codeless++;
      if (examples.codeless.length < 12) examples.codeless.push(line);
    } else if (answer.status < 400 && (answer.body as { valid?: unknown } | null)?.valid !== false) {
      accepted++;
      if (examples.accepted.length < 12) examples.accepted.push(line);
    }
  }
  return {
    routes: routes.length,
    requests: answers.length,
    byClass,
    fiveHundreds,
    noAnswer,
    codeless,
    accepted,
    stateChanged: changes.length,
    stateChanges: changes,
    examples,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
