import type { InferenceReceipt } from '../../../core/receipts';
import { tensorToJson, type Tensor } from '../../../core/tensors';
import type { ModelVersion } from '../../hub/model-store';
import { kserveDatatype } from './datatypes';
import { INFERENCE_HEADER_LENGTH, type KserveRequest } from './request';
import { REPLY_HEADERS, encodeReplyHeader, modelLabel } from '../reply-format';

// Answers of the Open Inference Protocol (KServe v2 REST): the "Inference Response JSON Object"
// {model_name, model_version, id, parameters, outputs: [{name, shape, datatype, data}]}, with outputs
// asked for as binary data (Triton's binary tensor data extension) after the JSON; and the error
// object {"error": "<message>"}, to which Proofgate adds its stable `code`.
//
// Output data are written as Proofgate's lossless JSON writes them (core/tensors/tensor-json.ts):
// numbers, except what a JSON number cannot carry exactly (64-bit integers beyond 2^53 as decimal
// strings; "NaN", "Infinity", "-Infinity", "-0" for floats). The protocol allows string elements,
// and so a client that converts the outputs back gets the very bytes the receipt's outputHash covers.

/** Response `parameters` through which Proofgate's receipt and payment travel (their values JSON text, as parameters are scalars). */
export const KSERVE_PARAMETERS = {
  /** The backend's signed receipt, as JSON text. */
  receipt: 'proofgate_receipt',
  /** The model's sha256 (what the receipt's modelSha256 names). */
  modelSha256: 'proofgate_model_sha256',
  /** A paid call's payment (`{id, scheme, state, maxAmount, charged, transaction}`), as JSON text. */
  payment: 'proofgate_payment',
} as const;

/** What an answer is made of. */
export interface KserveAnswer {
  model: ModelVersion;
  /** Every output the backend returned (the receipt covers them all). */
  outputs: Readonly<Record<string, Tensor>>;
  receipt: InferenceReceipt;
  /** A paid call's payment state. */
  payment?: unknown;
  /** What the request asked: its id and the outputs it named. */
  request: Pick<KserveRequest, 'id' | 'outputs' | 'binaryOutputs'>;
  /** Headers to keep (PAYMENT-RESPONSE, proofgate-replayed, cache-control). */
  headers?: HeadersInit;
}

// The outputs to return, in order: those the request named, else every output in the model's order.
function selectOutputs(a: KserveAnswer): { name: string; tensor: Tensor; binary: boolean }[] {
  const named =
    a.request.outputs ??
    [
      ...a.model.outputs.map((s) => s.name).filter((name) => name in a.outputs),
      ...Object.keys(a.outputs).filter((name) => !a.model.outputs.some((s) => s.name === name)),
    ].map((name) => ({ name, binary: a.request.binaryOutputs }));
  return named.filter((o) => o.name in a.outputs).map((o) => ({ ...o, tensor: a.outputs[o.name]! }));
}

/**
 * The answer to an inference request: JSON, or, when an output is asked for as binary data, the JSON
 * followed by those outputs' bytes (Inference-Header-Content-Length gives the JSON's length). The
 * receipt is in `parameters.proofgate_receipt` and in the `proofgate-receipt` header (base64url
 * JSON), the payment of a paid call likewise.
 */
export function kserveReply(a: KserveAnswer): Response {
  const outputs = selectOutputs(a);
  const parameters: Record<string, string> = {
    [KSERVE_PARAMETERS.receipt]: JSON.stringify(a.receipt),
    [KSERVE_PARAMETERS.modelSha256]: a.model.sha256,
    ...(a.payment !== undefined ? { [KSERVE_PARAMETERS.payment]: JSON.stringify(a.payment) } : {}),
  };
  const head = {
    model_name: a.model.name,
    model_version: String(a.model.version),
    ...(a.request.id !== undefined ? { id: a.request.id } : {}),
    parameters,
  };
  const parts = outputs.map(({ name, tensor, binary }) => {
    const meta = `"name":${JSON.stringify(name)},"datatype":"${kserveDatatype(tensor.type)}","shape":${JSON.stringify(tensor.dims)}`;
    return binary
      ? `{${meta},"parameters":{"binary_data_size":${tensor.data.byteLength}}}`
      : `{${meta},"data":${JSON.stringify(tensorToJson(tensor).data)}}`;
  });
  const json = `${JSON.stringify(head).slice(0, -1)},"outputs":[${parts.join(',')}]}`;

  const headers = new Headers(a.headers);
  headers.delete('content-length');
  headers.set(REPLY_HEADERS.receipt, encodeReplyHeader(a.receipt));
  headers.set(REPLY_HEADERS.model, encodeReplyHeader(modelLabel(a.model)));
  if (a.payment !== undefined) headers.set(REPLY_HEADERS.payment, encodeReplyHeader(a.payment));
  const binary = outputs.filter((o) => o.binary);
  if (binary.length === 0) {
    headers.set('content-type', 'application/json');
    return new Response(json, { status: 200, headers });
  }
  const text = new TextEncoder().encode(json);
  const body = new Uint8Array(text.length + binary.reduce((n, o) => n + o.tensor.data.byteLength, 0));
  body.set(text, 0);
  let offset = text.length;
  for (const o of binary) {
    body.set(o.tensor.data, offset);
    offset += o.tensor.data.byteLength;
  }
  headers.set('content-type', 'application/octet-stream');
  headers.set(INFERENCE_HEADER_LENGTH, String(text.length));
  return new Response(body, { status: 200, headers });
}

/** The protocol's error object, `{"error": "<message>"}`, with Proofgate's stable `code` and the error's details beside it. */
export function kserveError(status: number, code: string, message: string, details: Record<string, unknown> = {}, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.delete('content-length');
  h.set('content-type', 'application/json');
  return new Response(JSON.stringify({ ...details, error: message, code }), { status, headers: h });
}

/**
 * An error answer of Proofgate's own form, `{"error": {"code", "message", ...details}}` or x402's 402
 * body `{"error": "<code>", "message", ...}`, as the protocol's error object. Its headers stay (the
 * PAYMENT-REQUIRED a client pays from, Retry-After); the x402 body's fields do not, as the
 * PAYMENT-REQUIRED header carries them.
 */
export async function toKserveError(response: Response): Promise<Response> {
  let body: unknown;
  try {
    body = JSON.parse(await response.text());
  } catch {
    body = null;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'object' && error !== null) {
    const { code, message, ...details } = error as Record<string, unknown>;
    return kserveError(response.status, String(code), String(message), details, response.headers);
  }
  if (typeof error === 'string') {
    const message = (body as { message?: unknown }).message;
    return kserveError(response.status, error, typeof message === 'string' ? message : error, {}, response.headers);
  }
  return kserveError(response.status, `http_${response.status}`, response.statusText || 'the request failed', {}, response.headers);
}
