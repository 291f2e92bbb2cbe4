import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backendAuthLabel, deriveNodeAuthKey, signGatewayRequest, verifyGatewayRequest, type GatewayRequest } from '../../../core/node-protocol';

const now = 1_790_000_000_000;
const request: GatewayRequest = {
  method: 'POST',
  path: '/v1/run',
  requestId: `0x${'ab'.repeat(32)}`,
  subject: `0x${'cd'.repeat(32)}`,
  bodySha256: `0x${'ef'.repeat(32)}`,
  timestamp: now,
};

describe('gateway request authentication', () => {
  it('derives a distinct key per backend and per gateway secret', async () => {
    const a = await deriveNodeAuthKey('secret-1', backendAuthLabel('0x00000000000000000000000000000000000000aA'));
    assert.equal(a, await deriveNodeAuthKey('secret-1', backendAuthLabel('0x00000000000000000000000000000000000000aa')));
    assert.notEqual(a, await deriveNodeAuthKey('secret-1', backendAuthLabel('0x00000000000000000000000000000000000000ab')));
    assert.notEqual(a, await deriveNodeAuthKey('secret-2', backendAuthLabel('0x00000000000000000000000000000000000000aa')));
  });

  it('accepts the signed request and refuses any change, another key or a stale timestamp', async () => {
    const key = await deriveNodeAuthKey('secret', backendAuthLabel('0x00000000000000000000000000000000000000aa'));
    const otherKey = await deriveNodeAuthKey('secret', backendAuthLabel('0x00000000000000000000000000000000000000bb'));
    const sig = await signGatewayRequest(key, request);
    assert.equal(await verifyGatewayRequest(key, request, sig, now + 1000), true);
    assert.equal(await verifyGatewayRequest(otherKey, request, sig, now), false);
    for (const change of [
      { path: '/v1/other' },
      { requestId: `0x${'ac'.repeat(32)}` },
      { subject: `0x${'ce'.repeat(32)}` },
      { bodySha256: `0x${'ee'.repeat(32)}` },
      { timestamp: now + 1 },
      { method: 'GET' },
    ]) {
      assert.equal(await verifyGatewayRequest(key, { ...request, ...change } as GatewayRequest, sig, now), false, JSON.stringify(change));
    }
    assert.equal(await verifyGatewayRequest(key, request, sig, now + 61_000), false);
    assert.equal(await verifyGatewayRequest(key, request, 'not-hex', now), false);
  });
});
