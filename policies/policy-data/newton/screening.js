// screening: a Newton PolicyData pack (newton:provider@0.2.0), written as Newton's packs are
// (newt-foundation/newton-policy-packs: one `run` export, output wrapped under the pack id so that
// the shallow merge into data.wasm composes). It screens the address in its wasm_args with a
// screening API: GET <endpoint>/v1/screen/<address> with the policy client's SCREENING_API_KEY
// secret, and reports what the API says together with the API's own signature over it, which the
// policy checks with newton.crypto.ecdsa_recover_signer_personal.
// Built into a component by policies/policy-data/build.ts (jco componentize, as Newton builds packs).
import { fetch as httpFetch } from 'newton:provider/http@0.2.0';
import { get as getHostSecrets } from 'newton:provider/secrets@0.2.0';

const PACK_ID = 'screening';

function wrapOutput(value) {
  return JSON.stringify({ [PACK_ID]: value });
}

function hostSecrets() {
  const { value } = getHostSecrets();
  return JSON.parse(new TextDecoder().decode(new Uint8Array(value)));
}

export function run(input) {
  const parsed = JSON.parse(input);
  const args = parsed[PACK_ID] ?? parsed;
  const { address, endpoint } = args;
  if (typeof address !== 'string' || typeof endpoint !== 'string') {
    return wrapOutput({ error: 'wasm_args must carry address and endpoint' });
  }
  const key = hostSecrets().SCREENING_API_KEY;
  if (typeof key !== 'string') return wrapOutput({ error: 'no secret SCREENING_API_KEY' });
  const response = httpFetch({
    url: `${endpoint}/v1/screen/${address.toLowerCase()}`,
    method: 'GET',
    headers: [
      ['accept', 'application/json'],
      ['x-api-key', key],
    ],
    body: undefined,
  });
  const text = new TextDecoder().decode(new Uint8Array(response.body));
  if (response.status !== 200) return wrapOutput({ error: `screening API answered ${response.status}` });
  const body = JSON.parse(text);
  return wrapOutput({
    address: address.toLowerCase(),
    sanctioned: body.sanctioned === true,
    risk_score: body.risk_score,
    signature: body.signature,
    // The task's clock: the same on every operator.
    checked_at: Math.floor(Date.now() / 1000),
  });
}
