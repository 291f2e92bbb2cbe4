import type { ModelVersion } from '../hub/model-store';
import type { InferenceResult } from './dispatch-inference';
import { binaryReply, jsonReplyText, replyEncoding } from './reply-format';
import { type CallInputs, readCallInputs, requestEncoding } from './request-inputs';

/**
 * The form of one inference call on the wire: how its body is read (stages 2 and 3) and how its
 * answers are written. The stages in between (admission, payment, the backend, the receipt, the
 * settlement) are the same whatever the form; Proofgate's own form (below) and the Open Inference
 * Protocol's (kserve/form.ts) implement this. One instance serves one call, so a form may keep what
 * it read from the request (a request id, the outputs asked for) until it writes the answer.
 */
export interface CallForm {
  /** The metrics label of the request and reply encodings, e.g. `json/binary`. */
  encoding(): string;
  /** Stages 2 and 3: reads the body and checks it against the model's inputs (4xx on anything amiss). */
  readInputs(model: ModelVersion, bodyLimit: number): Promise<CallInputs>;
  /** The answer to a free call. */
  reply(model: ModelVersion, result: InferenceResult): Response;
  /** The answer to a paid call from what settlement answered: the result with its payment (200), or a refusal. */
  paidReply(model: ModelVersion, result: InferenceResult, settled: Response): Promise<Response>;
  /** What the payment gate answered before any work: 402, 409, or an earlier call's result replayed (200). */
  gateReply(model: ModelVersion, response: Response): Promise<Response>;
}

/**
 * Proofgate's own form: `{"inputs": {name: {type, dims, data}}}` or the canonical binary encoding
 * in, JSON or binary (by Accept) out. The payment gate and settlement already answer in its JSON.
 */
export function proofgateForm(request: Request): CallForm {
  const binary = replyEncoding(request) === 'binary';
  return {
    encoding: () => `${requestEncoding(request)}/${binary ? 'binary' : 'json'}`,
    readInputs: (model, bodyLimit) => readCallInputs(request, model, bodyLimit),
    reply: (model, result) =>
      binary ? binaryReply(model, result) : new Response(jsonReplyText(model, result), { headers: { 'content-type': 'application/json' } }),
    async paidReply(model, result, settled) {
      if (!binary || settled.status !== 200) return settled;
      // The ledger keeps the JSON answer for replays; this caller asked for the binary one.
      const { payment } = (await settled.json()) as { payment: unknown };
      const headers = new Headers(settled.headers);
      headers.delete('content-type');
      headers.delete('content-length');
      return binaryReply(model, result, { payment, headers });
    },
    gateReply: async (_model, response) => response,
  };
}
