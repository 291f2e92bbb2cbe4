import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex, type Hex } from 'viem';
import {
  SecretsSealError,
  deliveredSecretsBinding,
  openSecrets,
  policyDataSecretsSchema,
  sealSecrets,
  signSecretsRequest,
  storedSecretsBinding,
  verifySecretsRequest,
} from '../../../core/policy-data-secrets';

// PolicyData secrets are sealed at rest under the gateway's secret and in delivery under the
// asking operator's node key, each bound to what they belong to.

const secrets = { SCREENING_API_KEY: 'sk_live_0123456789', OTHER: 'x' };
const gatewaySecret = new TextEncoder().encode('gateway-secret-for-tests');
const nodeKey = crypto.getRandomValues(new Uint8Array(32));
const request = {
  operatorId: 'operator-1',
  taskId: `0x${'ab'.repeat(32)}` as Hex,
  sha256: `0x${'cd'.repeat(32)}` as Hex,
  timestamp: 1_790_000_000_000,
};

describe('sealSecrets / openSecrets', () => {
  it('round-trips, with a fresh IV each time and no plaintext in the sealed bytes', async () => {
    const binding = storedSecretsBinding('0xAbCd000000000000000000000000000000000001', request.sha256);
    const a = await sealSecrets(gatewaySecret, 'at-rest', binding, secrets);
    const b = await sealSecrets(gatewaySecret, 'at-rest', binding, secrets);
    assert.notEqual(a, b);
    assert.ok(!Buffer.from(a.slice(2), 'hex').toString('latin1').includes('sk_live'));
    assert.deepEqual(await openSecrets(gatewaySecret, 'at-rest', binding, a), secrets);
  });

  describe('does not open under another key, purpose or binding, nor with a changed byte', () => {
    const binding = deliveredSecretsBinding(request);
    const attempts: [string, (sealed: Hex) => Promise<unknown>][] = [
      ['under another key', (sealed) => openSecrets(gatewaySecret, 'delivery', binding, sealed)],
      ['for another purpose', (sealed) => openSecrets(nodeKey, 'at-rest', binding, sealed)],
      [
        'for another operator',
        (sealed) => openSecrets(nodeKey, 'delivery', deliveredSecretsBinding({ ...request, operatorId: 'operator-2' }), sealed),
      ],
      [
        'for another module',
        (sealed) => openSecrets(nodeKey, 'delivery', deliveredSecretsBinding({ ...request, sha256: `0x${'ee'.repeat(32)}` }), sealed),
      ],
      [
        'with a changed byte',
        (sealed) => {
          const flipped = Buffer.from(sealed.slice(2), 'hex');
          flipped[20] = flipped[20]! ^ 1;
          return openSecrets(nodeKey, 'delivery', binding, bytesToHex(flipped));
        },
      ],
      ['truncated to one byte', () => openSecrets(nodeKey, 'delivery', binding, '0x00')],
    ];
    for (const [name, attempt] of attempts) {
      it(name, async () => {
        const sealed = await sealSecrets(nodeKey, 'delivery', binding, secrets);
        await assert.rejects(attempt(sealed), SecretsSealError);
      });
    }
  });
});

describe('signSecretsRequest / verifySecretsRequest', () => {
  const key = bytesToHex(nodeKey);

  it('verifies the operator’s own request', async () => {
    assert.equal(await verifySecretsRequest(key, request, await signSecretsRequest(key, request)), true);
  });

  const others: [string, () => [Hex, typeof request, string]][] = [
    ["another operator's", () => [key, { ...request, operatorId: 'operator-2' }, '']],
    ['for another task', () => [key, { ...request, taskId: `0x${'ac'.repeat(32)}` }, '']],
    ['at another time', () => [key, { ...request, timestamp: request.timestamp + 1 }, '']],
    ['under another key', () => [bytesToHex(crypto.getRandomValues(new Uint8Array(32))), request, '']],
    ['with a signature that is not hex', () => [key, request, 'not hex']],
  ];
  for (const [name, attempt] of others) {
    it(`refuses a request ${name}`, async () => {
      const [verifyKey, asked, badSignature] = attempt();
      const signature = badSignature || (await signSecretsRequest(key, request));
      assert.equal(await verifySecretsRequest(verifyKey, asked, signature), false);
    });
  }
});

describe('policyDataSecretsSchema', () => {
  it('takes names a module can ask for, string values, at most 32', () => {
    assert.equal(policyDataSecretsSchema.safeParse(secrets).success, true);
    assert.equal(policyDataSecretsSchema.safeParse({ '1BAD': 'x' }).success, false);
    assert.equal(policyDataSecretsSchema.safeParse({ KEY: 1 }).success, false);
    assert.equal(policyDataSecretsSchema.safeParse(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`K${i}`, 'v']))).success, false);
  });
});
