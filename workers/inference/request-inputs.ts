import type { Hex } from 'viem';
import { InvalidRequestError } from '../../core/errors';
import { InputHeaderChecker, fixedInputBytes } from '../../core/onnx';
import { TENSORS_MEDIA_TYPE, readJsonTensorBody, readTensorStream, sha256Hex } from '../../core/tensors';
import type { ModelVersion } from '../hub/model-store';
import { readBodyLimited } from '../http/request-body';

/** A call's inputs as the backend gets them: the canonical encoding, its hash, and the form they came in. */
export interface CallInputs {
  bytes: Uint8Array;
  hash: Hex;
  encoding: 'json' | 'binary';
}

/** Bytes a JSON body may spend per element of a fixed-shape model (digits, sign, exponent, separators, spaces). */
export const JSON_BYTES_PER_ELEMENT = 64;
/** Room a JSON body has besides its elements (names, types, dims, whitespace). */
export const JSON_OVERHEAD_BYTES = 64 * 1024;

/**
 * The most body bytes a call to `model` may send: for a model whose inputs all have fixed shapes,
 * what those tensors can take (exactly, in binary; a generous bound per element in JSON); otherwise
 * the Worker's body limit. A body over it is refused (413) before it is read.
 */
export function inputBodyLimit(model: ModelVersion, encoding: CallInputs['encoding'], bodyLimit: number): number {
  const fixed = fixedInputBytes(model.inputs);
  if (!fixed) return bodyLimit;
  return Math.min(bodyLimit, encoding === 'binary' ? fixed.bytes : JSON_OVERHEAD_BYTES + fixed.elements * JSON_BYTES_PER_ELEMENT);
}

/** The form a request body is in, by its Content-Type. */
export function requestEncoding(request: Request): CallInputs['encoding'] {
  const type = (request.headers.get('content-type') ?? '').split(';')[0] ?? '';
  return type.trim().toLowerCase() === TENSORS_MEDIA_TYPE ? 'binary' : 'json';
}

/**
 * Stage 2 and 3 of the call: reads the body and checks it against the model's declared inputs.
 * Binary bodies are checked tensor header by tensor header as they stream in, and kept as they
 * are (they are already the canonical encoding); JSON bodies are read up to the model's cap and
 * converted with each tensor's type and dims checked before its data is. Nothing larger than the
 * model's inputs can take is buffered before a check fails.
 */
export async function readCallInputs(request: Request, model: ModelVersion, bodyLimit: number): Promise<CallInputs> {
  const encoding = requestEncoding(request);
  const limit = inputBodyLimit(model, encoding, bodyLimit);
  const checker = new InputHeaderChecker(model.inputs);
  const declared = request.headers.get('content-length');
  const sizeHint = declared !== null && /^[0-9]{1,15}$/.test(declared) ? Number(declared) : undefined;
  let bytes: Uint8Array;
  try {
    bytes =
      encoding === 'binary'
        ? await readTensorStream(request.body, {
            maxBytes: limit,
            ...(sizeHint !== undefined ? { sizeHint } : {}),
            onHeader: (h) => checker.check(h),
          })
        : readJsonTensorBody(await readBodyLimited(request, limit), 'inputs', (h) => checker.check(h));
  } catch (err) {
    if (err instanceof TypeError) throw new InvalidRequestError('invalid_body', 'the request body could not be read');
    throw err;
  }
  checker.finish();
  return { bytes, hash: await sha256Hex(bytes), encoding };
}
