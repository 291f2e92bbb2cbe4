import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computePolicyId, policyDataToleranceBps, verifiedPolicyContent } from '../../../core/operator-protocol';
import { policyBody, policyId } from '../../../workers/policies/policy-store';
import { POLICY } from './task-fixtures';

// Signer nodes check a policy's content against its id with core's computePolicyId; the gateway
// names policies with its own policyId. Both must be the same function of the same content.

describe('policy content and id', () => {
  it("core's policy id is the gateway's, defaults included", async () => {
    for (const submitted of [
      { modules: { 'intent.rego': POLICY } },
      { modules: { 'intent.rego': POLICY }, entrypoint: 'data.proofgate.intent', params: { maxValue: 5, blocked: [] }, thresholdBps: 9000 },
      { modules: { 'a.rego': POLICY }, policyData: [{ name: 'risk', sha256: `0x${'AB'.repeat(32)}` }], params: { policyDataToleranceBps: 25 } },
    ]) {
      const content = policyBody.parse(submitted);
      const id = await policyId(content);
      assert.equal(await computePolicyId(content), id);
      // What GET /v1/policies/:id serves (the id and createdAt besides the content) verifies under the id.
      assert.deepEqual(await verifiedPolicyContent(id, { id, ...content, createdAt: '2026-01-01T00:00:00.000Z' }), content);
    }
  });

  describe('refuses content that does not hash to the id, however close', () => {
    const content = policyBody.parse({ modules: { 'intent.rego': POLICY }, thresholdBps: 9000 });
    const bents: [string, unknown][] = [
      ['another threshold', { ...content, thresholdBps: 6700 }],
      ['a newline added to a module', { ...content, modules: { 'intent.rego': `${POLICY}\n` } }],
      ['params added', { ...content, params: { x: 1 } }],
      ['no object at all', 'nope'],
    ];
    for (const [name, bent] of bents) {
      it(name, async () => {
        await assert.rejects(verifiedPolicyContent(await policyId(content), bent), { code: 'policy_content_mismatch' });
      });
    }
  });

  it('reads the PolicyData tolerance from params, exact by default', () => {
    assert.equal(policyDataToleranceBps({ policyDataToleranceBps: 25 }), 25);
    for (const params of [{}, null, 'x', { policyDataToleranceBps: -1 }, { policyDataToleranceBps: 1.5 }, { policyDataToleranceBps: 10_001 }]) {
      assert.equal(policyDataToleranceBps(params), 0);
    }
  });
});
