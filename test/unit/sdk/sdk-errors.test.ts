import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  GatewayError,
  NotFoundError,
  PaymentRequiredError,
  ProofgateError,
  RateLimitedError,
  errorFromBody,
} from '../../../sdk/src/errors';

describe('SDK errors', () => {
  it("keep the gateway's code, message, status and details, with a class per status", () => {
    const e = errorFromBody(403, { error: { code: 'policy_denied', message: 'denied', reasons: ['blocked country'] } });
    assert.ok(e instanceof ForbiddenError && e instanceof ProofgateError);
    assert.equal(e.code, 'policy_denied');
    assert.equal(e.message, 'denied');
    assert.equal(e.status, 403);
    assert.deepEqual(e.details, { reasons: ['blocked country'] });
    assert.equal(e.name, 'ForbiddenError');
    for (const [status, Class] of [
      [400, BadRequestError],
      [404, NotFoundError],
      [409, ConflictError],
      [502, GatewayError],
      [503, GatewayError],
    ] as const) {
      assert.ok(errorFromBody(status, { error: { code: 'x', message: 'y' } }) instanceof Class, String(status));
    }
  });

  it('read an x402 402 body: its error code and the offer', () => {
    const offer = {
      x402Version: 2,
      error: 'insufficient_funds',
      accepts: [{ scheme: 'exact', network: 'eip155:1', amount: '5', asset: '0x', payTo: '0x' }],
    };
    const e = errorFromBody(402, { ...offer, message: 'not enough' });
    assert.ok(e instanceof PaymentRequiredError);
    assert.equal(e.code, 'insufficient_funds');
    assert.equal(e.message, 'not enough');
    assert.equal(e.paymentRequired?.accepts[0]?.amount, '5');
  });

  it('carry Retry-After, and turn a body that is not Proofgate JSON into a code of its status', () => {
    const e = errorFromBody(429, { error: { code: 'rate_limited', message: 'slow down' } }, '7');
    assert.ok(e instanceof RateLimitedError);
    assert.equal(e.details?.['retryAfterSeconds'], 7);
    const odd = errorFromBody(500, '<html>oops</html>');
    assert.equal(odd.code, 'http_500');
    assert.ok(odd instanceof GatewayError);
  });
});
