/** The verify page: a receipt (verified here) or an attestation (checked by the gateway) pasted as JSON, and its verdict. */
import { checkAttestationAtGateway } from '../../sdk/src/api';
import type { InferenceReceipt } from '../../sdk/src/verify-receipt';
import { describeError, gateway, showVerdict } from './common';
import { verifyAgainstGateway } from './verify-receipt-here';

const form = document.getElementById('verify-form') as HTMLFormElement;
const text = document.getElementById('document') as HTMLTextAreaElement;
const button = document.getElementById('verify-button') as HTMLButtonElement;
const output = document.getElementById('verdict')!;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  button.disabled = true;
  output.removeAttribute('data-verdict');
  void check(text.value).finally(() => {
    button.disabled = false;
  });
});

async function check(source: string): Promise<void> {
  let doc: unknown;
  try {
    doc = JSON.parse(source);
  } catch {
    showVerdict(output, false, ['invalid_json'], 'the text is not JSON');
    return;
  }
  // A receipt may come wrapped in an inference reply; an attestation in a task.
  const unwrapped = (doc as { receipt?: unknown; attestation?: unknown } | null) ?? {};
  const candidate = (unwrapped.receipt ?? unwrapped.attestation ?? doc) as Record<string, unknown>;
  try {
    if (candidate && typeof candidate === 'object' && 'aggregateSignature' in candidate) {
      const verdict = await checkAttestationAtGateway(gateway, candidate);
      showVerdict(output, verdict.valid, verdict.reasons, attestationDetail(candidate));
    } else if (candidate && typeof candidate === 'object' && 'signature' in candidate && 'requestId' in candidate) {
      const verdict = await verifyAgainstGateway(candidate as unknown as InferenceReceipt);
      showVerdict(output, verdict.valid, verdict.reasons, verdict.valid ? `receipt signed by registered backend ${verdict.signer}` : 'receipt');
    } else {
      showVerdict(output, false, ['unknown_document'], 'neither a receipt nor an attestation');
    }
  } catch (err) {
    showVerdict(output, false, [(err as { code?: string }).code ?? 'unavailable'], describeError(err));
  }
}

// What the gateway judged an attestation by: the registry snapshot it names, and the quorum of its policy (or model).
function attestationDetail(a: Record<string, unknown>): string {
  const kind = a['kind'] === 'inference' ? 'inference attestation' : 'attestation';
  const snapshot = typeof a['registry'] === 'string' ? ` against OperatorRegistry ${a['registry']} at block ${String(a['registryBlock'])}` : '';
  const quorum = a['kind'] === 'inference' ? "the model's quorum" : "its policy's quorum";
  return `${kind}, checked by the gateway${snapshot}, ${quorum} and the single-use ledger`;
}
