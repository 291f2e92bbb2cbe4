import { GATEWAY_HEADERS } from '../../core/node-protocol';
import { TENSORS_MEDIA_TYPE, decodeTensors, tensorMapToJsonText } from '../../core/tensors';
import type { ModelVersion } from '../hub/model-store';
import type { InferenceResult } from './dispatch-inference';

/** How the answer is written: JSON, or the canonical tensor encoding (chosen by the request's Accept). */
export type ReplyEncoding = 'json' | 'binary';

/** Headers of a binary answer: what the JSON answer carries besides the outputs. */
export const REPLY_HEADERS = {
  receipt: GATEWAY_HEADERS.receipt,
  model: 'proofgate-model',
  payment: 'proofgate-payment',
} as const;

/** The reply encoding a request asks for: binary when its Accept names the tensor media type. */
export function replyEncoding(request: Request): ReplyEncoding {
  return (request.headers.get('accept') ?? '').toLowerCase().includes(TENSORS_MEDIA_TYPE) ? 'binary' : 'json';
}

/** A header value of an answer: `value` as base64url JSON (read back with readReplyHeader). */
export function encodeReplyHeader(value: unknown): string {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The model of an answer: name, version and the sha256 the receipt names. */
export function modelLabel(model: ModelVersion): { name: string; version: number; sha256: string } {
  return { name: model.name, version: model.version, sha256: model.sha256 };
}

/**
 * The JSON answer's text, `{"model", "outputs", "receipt"}` (outputs in the lossless JSON tensor
 * form), written without building the outputs as JavaScript values.
 */
export function jsonReplyText(model: ModelVersion, result: InferenceResult): string {
  const outputs = tensorMapToJsonText(decodeTensors(result.outputBytes));
  return `{"model":${JSON.stringify(modelLabel(model))},"outputs":${outputs},"receipt":${JSON.stringify(result.receipt)}}`;
}

/** The JSON answer as an object (what payment settlement stores for replays). */
export function jsonReplyBody(model: ModelVersion, result: InferenceResult): Record<string, unknown> {
  return JSON.parse(jsonReplyText(model, result)) as Record<string, unknown>;
}

/**
 * The binary answer: the backend's output bytes exactly as the receipt's outputHash covers them,
 * with the receipt (base64url JSON), the model and, for a paid call, the payment in headers.
 */
export function binaryReply(model: ModelVersion, result: InferenceResult, extra: { payment?: unknown; headers?: HeadersInit } = {}): Response {
  const headers = new Headers(extra.headers);
  headers.set('content-type', TENSORS_MEDIA_TYPE);
  headers.set(REPLY_HEADERS.receipt, encodeReplyHeader(result.receipt));
  headers.set(REPLY_HEADERS.model, encodeReplyHeader(modelLabel(model)));
  if (extra.payment !== undefined) headers.set(REPLY_HEADERS.payment, encodeReplyHeader(extra.payment));
  return new Response(result.outputBytes, { status: 200, headers });
}

/** Decodes a base64url JSON header of a binary answer (for clients, the SDK and tests). */
export function readReplyHeader<T>(value: string | null): T | null {
  if (!value) return null;
  const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)))) as T;
}
