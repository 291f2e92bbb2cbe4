import { InvalidRequestError } from '../../../core/errors';
import type { InferenceReceipt } from '../../../core/receipts';
import { decodeTensors, sha256Hex, tensorMapFromJson } from '../../../core/tensors';
import { readBodyLimited } from '../../http/request-body';
import type { CallForm } from '../call-form';
import { kserveReply, toKserveError } from './reply';
import { INFERENCE_HEADER_LENGTH, type KserveRequest, jsonHeaderLength, readKserveBody } from './request';
import { inputBodyLimit } from '../request-inputs';

// Headers of a paid answer that the protocol's answer keeps; its body is rewritten.
function keptHeaders(response: Response): Headers {
  const headers = new Headers(response.headers);
  headers.delete('content-type');
  headers.delete('content-length');
  return headers;
}

/**
 * The Open Inference Protocol's form of an inference call (KServe v2 REST, `POST
 * /v2/models/{name}[/versions/{v}]/infer`): its inference request object in (with Triton's binary
 * tensor data extension), its inference response object or error object out. Everything between,
 * admission, payment, the backend and the receipt, is the same call as Proofgate's own form.
 */
export function kserveForm(request: Request): CallForm {
  const binaryIn = request.headers.has(INFERENCE_HEADER_LENGTH);
  let asked: KserveRequest | undefined;
  // The stages call readInputs before any answer with a result, so `asked` is set by then.
  const answerTo = (): KserveRequest => asked!;
  return {
    encoding: () => `kserve-${binaryIn ? 'binary' : 'json'}/kserve`,
    async readInputs(model, bodyLimit) {
      let body: Uint8Array;
      try {
        // The JSON bound also covers binary data, which takes at most 8 bytes an element.
        body = await readBodyLimited(request, inputBodyLimit(model, 'json', bodyLimit));
      } catch (err) {
        if (err instanceof TypeError) throw new InvalidRequestError('invalid_body', 'the request body could not be read');
        throw err;
      }
      asked = readKserveBody(body, jsonHeaderLength(request.headers.get(INFERENCE_HEADER_LENGTH), body.length), model);
      return { bytes: asked.inputs, hash: await sha256Hex(asked.inputs), encoding: binaryIn ? 'binary' : 'json' };
    },
    reply: (model, result) => kserveReply({ model, outputs: decodeTensors(result.outputBytes), receipt: result.receipt, request: answerTo() }),
    async paidReply(model, result, settled) {
      if (settled.status !== 200) return toKserveError(settled);
      const { payment } = (await settled.json()) as { payment: unknown };
      return kserveReply({
        model,
        outputs: decodeTensors(result.outputBytes),
        receipt: result.receipt,
        payment,
        request: answerTo(),
        headers: keptHeaders(settled),
      });
    },
    async gateReply(model, response) {
      if (response.status !== 200) return toKserveError(response);
      // A payment-identifier retry: the first call's result, kept in Proofgate's JSON form.
      const earlier = (await response.json()) as { outputs: unknown; receipt: InferenceReceipt; payment: unknown };
      return kserveReply({
        model,
        outputs: tensorMapFromJson(earlier.outputs),
        receipt: earlier.receipt,
        payment: earlier.payment,
        request: answerTo(),
        headers: keptHeaders(response),
      });
    },
  };
}
