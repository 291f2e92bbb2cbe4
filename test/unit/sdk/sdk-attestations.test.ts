import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { CONSUME_CONSENT_MAX_SKEW_S, consumeConsentSigner } from '../../../core/attestation';
import { computePolicyId, type PolicyContent } from '../../../core/operator-protocol/policy-content';
import { consumeAttestation, consumeConsent, createClient, verifyAttestation } from '../../../sdk/src/index';
import { NOW, OPERATORS, THRESHOLD_BPS, makeRegistry, makeRequest, signAttestation } from '../attestation/fixtures';

// The SDK's side of intent attestations, with real keys: the policy client's consume consent
// (checked here by the very function the gateway checks it with), and offline verification under
// the policy's quorum, read from the gateway only when its content hashes to the policy id.

const POLICY: PolicyContent = {
  modules: { 'intent-policy.rego': 'package proofgate.intent\n\nallow := true\n' },
  entrypoint: 'data.proofgate.intent',
  params: {},
  policyData: [],
  thresholdBps: THRESHOLD_BPS,
};
const GATEWAY = 'http://gateway.invalid';

/** What the SDK sent, and a fetch that records it and answers `reply`. */
function recorder(reply: (url: string, body: unknown) => Response) {
  const sent: { url: string; body: any }[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    sent.push({ url, body });
    return reply(url, body);
  };
  return { sent, fetch: fetchImpl };
}

const json = (value: unknown, status = 200) => new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });

async function attestationFor(policyClient: Hex) {
  const policyId = await computePolicyId(POLICY);
  const registry = makeRegistry();
  // op-3 and op-4 hold 700 of 1000 stake: above the 6667 bps quorum.
  const attestation = signAttestation(makeRequest({ policyId, policyClient }), [OPERATORS[2]!, OPERATORS[3]!], registry);
  return { policyId, registry, attestation };
}

describe('SDK: consuming an attestation as its policy client', () => {
  it('signs the EIP-712 AttestationConsumption over the digest with the given account, now', async () => {
    const client = privateKeyToAccount(generatePrivateKey());
    const { attestation, policyId } = await attestationFor(client.address);
    const r = recorder(() => json({ consumed: true, digest: attestation.digest, consumedAt: new Date().toISOString() }));
    const before = Math.floor(Date.now() / 1000);
    const answer = await consumeAttestation({ gateway: GATEWAY, fetch: r.fetch }, attestation, { account: client, policyId });
    assert.equal(answer.consumed, true);
    assert.equal(r.sent.length, 1);
    assert.equal(r.sent[0]!.url, `${GATEWAY}/v1/attestations/consume`);
    const body = r.sent[0]!.body;
    assert.deepEqual(body.attestation, attestation);
    assert.equal(body.policyId, policyId, 'expectations travel with it');
    assert.equal(body.account, undefined, 'the account stays here');
    assert.ok(Math.abs(body.consent.issuedAt - before) <= 5);
    const signer = await consumeConsentSigner(attestation.digest, attestation.chainId, body.consent);
    assert.equal(signer, client.address, "the gateway's check recovers the policy client");
  });

  it("binds the signature to the attestation's digest, chain and time", async () => {
    const client = privateKeyToAccount(generatePrivateKey());
    const { attestation } = await attestationFor(client.address);
    const auth = await consumeConsent(client, attestation, 1_800_000_000);
    assert.equal(auth.issuedAt, 1_800_000_000);
    const other = `0x${'77'.repeat(32)}` as Hex;
    assert.notEqual(await consumeConsentSigner(other, attestation.chainId, auth), client.address, 'another digest');
    assert.notEqual(await consumeConsentSigner(attestation.digest, 1, auth), client.address, 'another chain');
    assert.notEqual(
      await consumeConsentSigner(attestation.digest, attestation.chainId, {
        ...auth,
        issuedAt: auth.issuedAt + CONSUME_CONSENT_MAX_SKEW_S,
      }),
      client.address,
      'another time',
    );
    await assert.rejects(consumeConsent(client, { digest: 'x' }), TypeError);
  });

  it('a client consumes with its own account by default, and refuses without one before sending anything', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const { attestation } = await attestationFor(account.address);
    const r = recorder(() => json({ error: { code: 'attestation_already_used', message: 'this attestation was already consumed' } }, 409));
    await assert.rejects(createClient({ gateway: GATEWAY, fetch: r.fetch, account }).consumeAttestation(attestation), {
      name: 'ConflictError',
      code: 'attestation_already_used',
    });
    assert.equal(await consumeConsentSigner(attestation.digest, attestation.chainId, r.sent[0]!.body.consent), account.address);
    await assert.rejects(createClient({ gateway: GATEWAY, fetch: r.fetch }).consumeAttestation(attestation), TypeError);
    assert.equal(r.sent.length, 1);
  });
});

describe("SDK: verifying an attestation offline under its policy's quorum", () => {
  it("reads the quorum from the gateway's copy of the policy, which must hash to the policy id", async () => {
    const { attestation, registry, policyId } = await attestationFor(`0x${'c1'.repeat(20)}`);
    const served = (content: PolicyContent) =>
      recorder((url) => (url === `${GATEWAY}/v1/policies/${policyId}` ? json({ id: policyId, ...content, createdAt: 'x' }) : json({}, 404)));
    const honest = served(POLICY);
    const verdict = await verifyAttestation(attestation, { registry, gateway: GATEWAY, fetch: honest.fetch, now: NOW, expectedPolicyId: policyId });
    assert.deepEqual(verdict, { valid: true, reasons: [], checkedBy: 'offline' });
    assert.deepEqual(
      honest.sent.map((s) => s.url),
      [`${GATEWAY}/v1/policies/${policyId}`],
    );

    // A gateway that serves a lower quorum under the same id is caught by the hash, not believed.
    const lying = served({ ...POLICY, thresholdBps: 1 });
    await assert.rejects(verifyAttestation(attestation, { registry, gateway: GATEWAY, fetch: lying.fetch, now: NOW }), {
      code: 'policy_content_mismatch',
    });
  });

  it('judges by the quorum it is given, never the attestation’s own', async () => {
    const { attestation, registry } = await attestationFor(`0x${'c1'.repeat(20)}`);
    const higher = await verifyAttestation(attestation, { registry, policyThresholdBps: 8000, now: NOW });
    assert.equal(higher.valid, false);
    assert.ok(higher.reasons.includes('threshold_mismatch'), higher.reasons.join());
    await assert.rejects(verifyAttestation(attestation, { registry, now: NOW }), TypeError, 'no quorum and no gateway to read it from');
  });
});
