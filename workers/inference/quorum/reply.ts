/**
 * What a quorum call's answer carries beyond a single call's, in whatever form the call came in:
 * every operator's receipt, the attestation, and where the evidence is kept. A call form writes the
 * answer (the reference outputs and the reference operator's receipt); this adds the rest to it:
 * fields of Proofgate's JSON answer, `parameters` of the Open Inference Protocol's, and headers
 * (base64url JSON, like the receipt's) on every answer, binary ones included. And the 402 of a
 * priced quorum call says what it is asked to pay for.
 */
import type { InferenceAttestation } from '../../../core/attestation';
import type { InferenceReceipt } from '../../../core/receipts';
import type { CallPrice } from '../../payments/call-price';
import { INFERENCE_HEADER_LENGTH } from '../kserve/request';
import { encodeReplyHeader } from '../reply-format';

/** Headers of a quorum answer (base64url JSON, read back with readReplyHeader). */
export const QUORUM_REPLY_HEADERS = {
  attestation: 'proofgate-attestation',
  receipts: 'proofgate-receipts',
  quorum: 'proofgate-quorum',
  /** On a 402: how the amount asked is made up (`<k> x <price per run> = <amount>`). */
  price: 'proofgate-quorum-price',
} as const;

/** Open Inference Protocol response `parameters` of a quorum answer (JSON text, as parameters are scalars). */
export const QUORUM_KSERVE_PARAMETERS = {
  attestation: 'proofgate_attestation',
  receipts: 'proofgate_receipts',
  quorum: 'proofgate_quorum',
} as const;

/** What a quorum answer adds to the reference result. */
export interface QuorumExtras {
  /** Every operator's receipt, the reference operator's first. */
  receipts: InferenceReceipt[];
  attestation: InferenceAttestation;
  /** The request, how many operators ran it, and the URL of its evidence. */
  quorum: { requestId: string; k: number; evidence: string };
}

/** Proofgate's JSON answer of a quorum call: a single call's fields, then the quorum's. */
export function quorumJsonFields(extras: QuorumExtras): Record<string, unknown> {
  return { receipts: extras.receipts, attestation: extras.attestation, quorum: extras.quorum };
}

/** Adds the quorum's receipts, attestation and evidence to a call form's 200 answer (anything else passes as it is). */
export async function withQuorum(response: Response, extras: QuorumExtras): Promise<Response> {
  if (response.status !== 200) return response;
  const headers = new Headers(response.headers);
  headers.set(QUORUM_REPLY_HEADERS.attestation, encodeReplyHeader(extras.attestation));
  headers.set(QUORUM_REPLY_HEADERS.receipts, encodeReplyHeader(extras.receipts));
  headers.set(QUORUM_REPLY_HEADERS.quorum, encodeReplyHeader(extras.quorum));
  headers.delete('content-length');
  const type = (headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('application/json')) {
    const body = addFields((await response.json()) as Record<string, unknown>, extras);
    return new Response(JSON.stringify(body), { status: 200, headers });
  }
  const headLength = Number(headers.get(INFERENCE_HEADER_LENGTH));
  if (headers.has(INFERENCE_HEADER_LENGTH) && Number.isSafeInteger(headLength)) {
    // The Open Inference Protocol's binary answer: its JSON head, then the outputs' bytes.
    const bytes = new Uint8Array(await response.arrayBuffer());
    const head = new TextEncoder().encode(
      JSON.stringify(addFields(JSON.parse(new TextDecoder().decode(bytes.subarray(0, headLength))) as Record<string, unknown>, extras)),
    );
    const body = new Uint8Array(head.length + bytes.length - headLength);
    body.set(head, 0);
    body.set(bytes.subarray(headLength), head.length);
    headers.set(INFERENCE_HEADER_LENGTH, String(head.length));
    return new Response(body, { status: 200, headers });
  }
  return new Response(response.body, { status: 200, headers });
}

function addFields(body: Record<string, unknown>, extras: QuorumExtras): Record<string, unknown> {
  const parameters = body['parameters'];
  if (typeof parameters === 'object' && parameters !== null) {
    // The Open Inference Protocol's answer: parameters are scalars, so the values travel as JSON text.
    Object.assign(parameters, {
      [QUORUM_KSERVE_PARAMETERS.attestation]: JSON.stringify(extras.attestation),
      [QUORUM_KSERVE_PARAMETERS.receipts]: JSON.stringify(extras.receipts),
      [QUORUM_KSERVE_PARAMETERS.quorum]: JSON.stringify(extras.quorum),
    });
    return body;
  }
  return { ...body, ...quorumJsonFields(extras) };
}

/** The price of a quorum call: each of the k operators' runs is paid, so k times the price per run (a metered model's cap likewise). */
export function quorumPrice(price: CallPrice, k: number): CallPrice {
  return { ...price, amount: (BigInt(price.amount) * BigInt(k)).toString() };
}

/**
 * A 402 of a quorum call, saying what the amount is: k runs at the price per run, charged only when
 * the attestation is delivered (a header, and a `quorum` field beside x402's PaymentRequired).
 */
export async function withQuorumPrice(response: Response, price: CallPrice, k: number): Promise<Response> {
  if (response.status !== 402) return response;
  const amount = quorumPrice(price, k).amount;
  const headers = new Headers(response.headers);
  headers.set(QUORUM_REPLY_HEADERS.price, `${k} x ${price.amount} = ${amount}`);
  headers.delete('content-length');
  const body = (await response.json()) as Record<string, unknown>;
  const quorum = {
    k,
    pricePerRun: price.amount,
    amount,
    pricing: price.kind,
    charged: 'only when the attestation is delivered; nothing when the operators disagree or the quorum fails',
  };
  return new Response(JSON.stringify({ ...body, quorum }), { status: 402, headers });
}
