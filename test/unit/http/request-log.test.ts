import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { IRequest } from 'itty-router';
import { InvalidRequestError } from '../../../core/errors';
import { REQUEST_ID_HEADER, annotateRequest, beginRequestLog, endRequestLog, respondToError } from '../../../workers/observability/request-log';

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  for (const level of ['info', 'warn', 'error'] as const) mock.method(console, level, (line: string) => lines.push(line));
});
afterEach(() => mock.restoreAll());

function request(headers: Record<string, string> = {}): IRequest {
  const req = new Request('http://gateway.test/v1/models/m/infer?secret=1', { method: 'POST', headers }) as unknown as IRequest;
  req.route = '/v1/models/:name/infer';
  return req;
}

describe('request log', () => {
  it('writes one JSON line per request with the route, status, latency and what handlers noted', () => {
    const req = request({ authorization: 'Bearer do-not-log-me' });
    beginRequestLog(req);
    annotateRequest(req, { model: 'm', version: 2, backend: '0xabc', payment: 'settled', paymentId: 'pay_1' });
    const res = endRequestLog(Response.json({ ok: true }), req);
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.event, 'request');
    assert.equal(line.route, '/v1/models/:name/infer');
    assert.equal(line.method, 'POST');
    assert.equal(line.status, 200);
    assert.equal(typeof line.latencyMs, 'number');
    assert.deepEqual([line.model, line.version, line.backend, line.payment, line.paymentId], ['m', 2, '0xabc', 'settled', 'pay_1']);
    assert.equal(res.headers.get(REQUEST_ID_HEADER), line.requestId);
    assert.ok(!lines[0]!.includes('do-not-log-me') && !lines[0]!.includes('secret=1'), 'no headers, no query string');
  });

  it("uses Cloudflare's Ray ID as the request id when there is one", () => {
    const req = request({ 'cf-ray': '8a1b2c3d4e5f-AMS' });
    beginRequestLog(req);
    assert.equal(endRequestLog(new Response(null, { status: 204 }), req).headers.get(REQUEST_ID_HEADER), '8a1b2c3d4e5f-AMS');
  });

  it("logs a refused request's stable code, and an unexpected error at error level", () => {
    const refused = request();
    beginRequestLog(refused);
    endRequestLog(respondToError(new InvalidRequestError('invalid_json', 'request body is not valid JSON'), refused), refused);
    assert.equal(JSON.parse(lines.at(-1)!).code, 'invalid_json');

    const failed = request();
    beginRequestLog(failed);
    const res = endRequestLog(respondToError(new Error('boom'), failed), failed);
    assert.equal(res.status, 500);
    const last = JSON.parse(lines.at(-1)!);
    assert.deepEqual([last.level, last.status, last.code], ['error', 500, 'internal_error']);
  });
});
