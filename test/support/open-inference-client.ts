// A client of the Open Inference Protocol (KServe v2 REST) written from the protocol's documents
// alone, as any existing client is: KServe's "Open Inference Protocol" (health, server and model
// metadata, model ready, the inference request and response objects, parameters, tensor data and
// datatypes, the error object) and Triton's binary tensor data extension. It imports nothing of
// Proofgate's, so tests that drive the gateway with it show that a client of the protocol works
// unchanged. For checking receipts it also writes tensors in Proofgate's canonical encoding, from
// README's description of it (the bytes a receipt's inputHash and outputHash cover).

/** The protocol's tensor datatypes and their element sizes in bytes ("Tensor Data Types"). */
export const DATATYPE_SIZES = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
} as const;

/** A datatype with a fixed element size (BYTES has none). */
export type FixedDatatype = keyof typeof DATATYPE_SIZES;

/** A tensor element as JSON carries it. */
export type Element = number | string | boolean;

/** `$request_input`, with `binary` set to send its data with the binary tensor data extension instead of `data`. */
export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  data?: unknown[];
  parameters?: Record<string, string | number | boolean>;
  binary?: boolean;
}

/** `$inference_request`. */
export interface InferenceRequest {
  id?: string;
  parameters?: Record<string, string | number | boolean>;
  inputs: RequestInput[];
  outputs?: { name: string; parameters?: Record<string, string | number | boolean> }[];
}

/** `$response_output`, with the raw little-endian bytes of an output that came as binary data. */
export interface ResponseOutput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, string | number | boolean>;
  data?: unknown[];
  bytes?: Uint8Array;
}

/** `$inference_response`. */
export interface InferenceResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, string | number | boolean>;
  outputs: ResponseOutput[];
}

/** A failed request: its HTTP status and the protocol's error object. */
export class ProtocolError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error: string; [key: string]: unknown },
    readonly headers: Headers,
  ) {
    super(`${status}: ${body.error}`);
  }
}

const HEADER_LENGTH = 'Inference-Header-Content-Length';

/** Flattens tensor data given in its natural, nested form ("Tensor Data": row-major either way). */
export function flatten(data: unknown[]): unknown[] {
  return data.flatMap((v) => (Array.isArray(v) ? flatten(v) : [v]));
}

/** binary16 bits of a number, rounded to nearest, ties to even (for FP16, which JSON writes as numbers). */
export function halfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7c00;
  if (a === 0) return sign;
  const evenRound = (x: number): number => (x - Math.floor(x) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));
  let exp = Math.floor(Math.log2(a));
  if (a < 2 ** exp) exp--;
  if (a >= 2 ** (exp + 1)) exp++;
  if (exp < -14) return sign | evenRound(a / 2 ** -24); // subnormal (1024 rounds up into the smallest normal)
  let mantissa = evenRound((a / 2 ** exp - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exp++;
  }
  return exp > 15 ? sign | 0x7c00 : sign | ((exp + 15) << 10) | mantissa;
}

function floatOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return Number.NaN;
  if (v === 'Infinity') return Number.POSITIVE_INFINITY;
  if (v === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (v === '-0') return -0;
  throw new Error(`not a float: ${JSON.stringify(v)}`);
}

/** The little-endian binary form of flat JSON elements of `datatype` (the binary tensor data extension's layout). */
export function toBinary(datatype: FixedDatatype, elements: readonly unknown[]): Uint8Array {
  const size = DATATYPE_SIZES[datatype];
  const out = new Uint8Array(elements.length * size);
  const view = new DataView(out.buffer);
  elements.forEach((v, i) => {
    const o = i * size;
    switch (datatype) {
      case 'BOOL':
        out[o] = v === true || v === 1 ? 1 : 0;
        break;
      case 'UINT8':
        view.setUint8(o, Number(v));
        break;
      case 'INT8':
        view.setInt8(o, Number(v));
        break;
      case 'UINT16':
        view.setUint16(o, Number(v), true);
        break;
      case 'INT16':
        view.setInt16(o, Number(v), true);
        break;
      case 'UINT32':
        view.setUint32(o, Number(v), true);
        break;
      case 'INT32':
        view.setInt32(o, Number(v), true);
        break;
      case 'UINT64':
        view.setBigUint64(o, BigInt(v as number | string), true);
        break;
      case 'INT64':
        view.setBigInt64(o, BigInt(v as number | string), true);
        break;
      case 'FP16':
        view.setUint16(o, halfBits(floatOf(v)), true);
        break;
      case 'FP32':
        view.setFloat32(o, floatOf(v), true);
        break;
      case 'FP64':
        view.setFloat64(o, floatOf(v), true);
        break;
    }
  });
  return out;
}

/** The raw bytes of a response output, whether it came as JSON data or as binary data. */
export function outputBytes(output: ResponseOutput): Uint8Array {
  if (output.bytes) return output.bytes;
  return toBinary(output.datatype as FixedDatatype, flatten(output.data ?? []));
}

// Proofgate's element type names (onnxruntime's), which its canonical encoding writes.
const PROOFGATE_TYPES: Record<string, string> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
};

/**
 * Proofgate's canonical encoding of named tensors, as README states it: u32le(count), then per tensor
 * in byte order of its UTF-8 name u32le(len(name)) name u8(len(type)) type u32le(ndims) u64le(dim)…
 * u64le(len(bytes)) bytes.
 */
export function canonicalEncoding(tensors: readonly { name: string; datatype: string; shape: number[]; bytes: Uint8Array }[]): Uint8Array {
  const utf8 = new TextEncoder();
  const entries = tensors.map((t) => ({ ...t, nameBytes: utf8.encode(t.name), type: PROOFGATE_TYPES[t.datatype]! }));
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.nameBytes), Buffer.from(b.nameBytes)));
  const parts: Uint8Array[] = [];
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  };
  const u64 = (n: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
    return b;
  };
  parts.push(u32(entries.length));
  for (const e of entries) {
    parts.push(u32(e.nameBytes.length), e.nameBytes, Uint8Array.of(e.type.length), utf8.encode(e.type), u32(e.shape.length));
    for (const d of e.shape) parts.push(u64(d));
    parts.push(u64(e.bytes.length), e.bytes);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** A client of one server, speaking the protocol's REST API. */
export class OpenInferenceClient {
  constructor(
    private readonly base: string,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  private modelPath(name: string, version?: string): string {
    return `${this.base}/v2/models/${encodeURIComponent(name)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
  }

  private async json<T>(res: Response): Promise<T> {
    const body = (await res.json()) as T & { error?: string };
    if (!res.ok) throw new ProtocolError(res.status, body as { error: string }, res.headers);
    return body;
  }

  /** Server Live: a 200 means true, a 4xx false ("Health"). */
  async live(): Promise<boolean> {
    return (await this.fetcher(`${this.base}/v2/health/live`)).status === 200;
  }

  /** Server Ready. */
  async ready(): Promise<boolean> {
    return (await this.fetcher(`${this.base}/v2/health/ready`)).status === 200;
  }

  /** Model Ready: the raw answer (status and body). */
  async modelReady(name: string, version?: string): Promise<{ status: number; body: any }> {
    const res = await this.fetcher(`${this.modelPath(name, version)}/ready`);
    return { status: res.status, body: await res.json() };
  }

  /** Server Metadata. */
  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    return this.fetcher(`${this.base}/v2`).then((r) => this.json(r));
  }

  /** Model Metadata. */
  modelMetadata(
    name: string,
    version?: string,
  ): Promise<{
    name: string;
    versions?: string[];
    platform: string;
    inputs: { name: string; datatype: string; shape: number[] }[];
    outputs: { name: string; datatype: string; shape: number[] }[];
  }> {
    return this.fetcher(this.modelPath(name, version)).then((r) => this.json(r));
  }

  /**
   * Inference. Inputs marked `binary` travel as binary data after the JSON (with their
   * `binary_data_size`), and outputs that come back as binary data are read from after the JSON.
   */
  async infer(
    name: string,
    request: InferenceRequest,
    opts: { version?: string; headers?: Record<string, string> } = {},
  ): Promise<{ response: InferenceResponse; headers: Headers; status: number }> {
    const binaries: Uint8Array[] = [];
    const inputs = request.inputs.map(({ binary, ...input }) => {
      if (!binary) return input;
      const bytes = toBinary(input.datatype as FixedDatatype, flatten(input.data ?? []));
      binaries.push(bytes);
      const { data: _data, ...rest } = input;
      return { ...rest, parameters: { ...input.parameters, binary_data_size: bytes.length } };
    });
    const json = new TextEncoder().encode(JSON.stringify({ ...request, inputs }));
    const headers: Record<string, string> = { 'Content-Type': binaries.length ? 'application/octet-stream' : 'application/json', ...opts.headers };
    if (binaries.length) headers[HEADER_LENGTH] = String(json.length);
    const body = binaries.length ? new Uint8Array(Buffer.concat([json, ...binaries])) : json;
    const res = await this.fetcher(`${this.modelPath(name, opts.version)}/infer`, { method: 'POST', headers, body });
    const raw = new Uint8Array(await res.arrayBuffer());
    const headerLength = res.headers.get(HEADER_LENGTH);
    const jsonEnd = headerLength === null ? raw.length : Number(headerLength);
    const parsed = JSON.parse(new TextDecoder().decode(raw.subarray(0, jsonEnd)));
    if (!res.ok) throw new ProtocolError(res.status, parsed, res.headers);
    let offset = jsonEnd;
    for (const output of (parsed as InferenceResponse).outputs) {
      const size = output.parameters?.['binary_data_size'];
      if (typeof size === 'number') {
        output.bytes = raw.slice(offset, offset + size);
        offset += size;
      }
    }
    if (offset !== raw.length) throw new Error(`${raw.length - offset} bytes after the outputs' binary data`);
    return { response: parsed as InferenceResponse, headers: res.headers, status: res.status };
  }
}
