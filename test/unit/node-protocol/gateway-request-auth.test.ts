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

  describe('accepts the signed request and refuses any change, another key or a stale timestamp', () => {
    const keys = async () => ({
      key: await deriveNodeAuthKey('secret', backendAuthLabel('0x00000000000000000000000000000000000000aa')),
      otherKey: await deriveNodeAuthKey('secret', backendAuthLabel('0x00000000000000000000000000000000000000bb')),
    });

    it('accepts the signed request within the clock window', async () => {
      const { key } = await keys();
      assert.equal(await verifyGatewayRequest(key, request, await signGatewayRequest(key, request), now + 1000), true);
    });

    it('refuses it under another key', async () => {
      const { key, otherKey } = await keys();
      assert.equal(await verifyGatewayRequest(otherKey, request, await signGatewayRequest(key, request), now), false);
    });

    const changes: Partial<GatewayRequest>[] = [
      { path: '/v1/other' },
      { requestId: `0x${'ac'.repeat(32)}` },
      { subject: `0x${'ce'.repeat(32)}` },
      { bodySha256: `0x${'ee'.repeat(32)}` },
      { timestamp: now + 1 },
      { method: 'GET' },
    ];
    for (const change of changes) {
      it(`refuses it changed: ${JSON.stringify(change)}`, async () => {
        const { key } = await keys();
        const sig = await signGatewayRequest(key, request);
        assert.equal(await verifyGatewayRequest(key, { ...request, ...change } as GatewayRequest, sig, now), false);
      });
    }

    it('refuses it past the clock window', async () => {
      const { key } = await keys();
      assert.equal(await verifyGatewayRequest(key, request, await signGatewayRequest(key, request), now + 61_000), false);
    });

    it('refuses a signature that is not hex', async () => {
      const { key } = await keys();
      assert.equal(await verifyGatewayRequest(key, request, 'not-hex', now), false);
    });
  });
});
