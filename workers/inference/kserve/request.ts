import { InvalidRequestError } from '../../../core/errors';
import { InputHeaderChecker, InputMismatchError, type TensorSpec } from '../../../core/onnx';
import {
  COMPOSITE,
  ELEMENT_SIZE,
  InvalidTensorError,
  JsonCursor,
  MAX_DIMS,
  MAX_ELEMENTS,
  elementCount,
  readJsonDims,
  encodeTensors,
  writeJsonElement,
  type Tensor,
  type TensorType,
} from '../../../core/tensors';
import { kserveDatatype, tensorTypeOf } from './datatypes';

// The body of an Open Inference Protocol inference request (KServe v2 REST, "Inference Request JSON
// Object"): {"id"?, "parameters"?, "inputs": [{name, shape, datatype, parameters?, data}], "outputs"?:
// [{name, parameters?}]}, read as Proofgate's own JSON body is (core/tensors/tensor-json-body.ts):
// with a cursor over the bytes, so that each input's name, datatype and shape are checked against
// the model before its data is converted, and nothing but the tensors the model admits is built.
// `data` may be flat or nested as the shape ("Tensor Data"). Triton's binary tensor data extension is
// read too: with an Inference-Header-Content-Length header the JSON is followed by the raw
// little-endian data of each input whose parameters give `binary_data_size`, in input order.

/** Header of the binary tensor data extension: how many bytes of the body are the JSON object. */
export const INFERENCE_HEADER_LENGTH = 'inference-header-content-length';

/** An output the request names, and whether it is wanted as binary data. */
export interface RequestedOutput {
  name: string;
  binary: boolean;
}

/** What an inference request asks for: its inputs in the canonical encoding, and how to answer. */
export interface KserveRequest {
  /** The request's `id`, returned in the response. */
  id: string | undefined;
  /** The outputs asked for, in the order asked; null when none is named (every output is returned). */
  outputs: RequestedOutput[] | null;
  /** The request's `binary_data_output` parameter: outputs not named come back as binary data. */
  binaryOutputs: boolean;
  /** The inputs, canonically encoded (what the receipt's inputHash covers). */
  inputs: Uint8Array;
}

type Scalar = string | number | boolean | null;

// An output as named: its `binary_data` parameter, if it gives one.
interface AskedOutput {
  name: string;
  binary: boolean | undefined;
}

interface Header {
  name: string;
  type: TensorType;
  datatype: string;
  dims: number[];
  count: number;
}

function invalidJson(at: number): InvalidRequestError {
  return new InvalidRequestError('invalid_json', `request body is not valid JSON (at byte ${at})`);
}

function badRequest(message: string): InvalidRequestError {
  return new InvalidRequestError('invalid_request', message);
}

// Refuses anything but an object at `pos`: a body that ends there is not JSON, anything else is not the protocol's.
function expectObject(cur: JsonCursor, message: string): void {
  if (cur.peek() === -1) throw invalidJson(cur.pos);
  if (cur.peek() !== 0x7b) throw badRequest(message);
}

/**
 * The length of the JSON part that an Inference-Header-Content-Length header declares (null without
 * the header): a decimal number no larger than the body. Errors: 400 `invalid_request`.
 */
export function jsonHeaderLength(value: string | null, bodyLength: number): number | null {
  if (value === null) return null;
  const n = /^[0-9]{1,15}$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!(n <= bodyLength)) throw badRequest(`${INFERENCE_HEADER_LENGTH} must be a byte count no larger than the body (${bodyLength})`);
  return n;
}

/**
 * Reads an inference request body for `model`: `headerLength` is the JSON part's length when the
 * binary tensor data extension is used (null otherwise). Errors, all 400: `invalid_json`,
 * `invalid_request` (the object's form), `invalid_datatype`, `unsupported_datatype`, `invalid_tensor`
 * (shape, data, or their disagreement), `unknown_input`, `missing_input`, `type_mismatch`,
 * `shape_mismatch`, `unknown_output`, `unsupported_parameter`.
 */
export function readKserveBody(body: Uint8Array, headerLength: number | null, model: { inputs: TensorSpec[]; outputs: TensorSpec[] }): KserveRequest {
  const json = headerLength === null ? body : body.subarray(0, headerLength);
  const cur = new JsonCursor(json);
  cur.ws();
  if (cur.peek() !== 0x7b) {
    cur.skipValue(0);
    cur.ws();
    if (cur.pos !== json.length) throw invalidJson(cur.pos);
    throw badRequest('body must be an inference request object {"inputs": [{"name", "shape", "datatype", "data"}]}');
  }
  const checker = new InputHeaderChecker(model.inputs);
  const specs = new Map(model.inputs.map((s) => [s.name, s]));
  const tensors = new Map<string, Tensor>();
  const binarySlots: Header[] = [];
  let id: string | undefined;
  let sawInputs = false;
  let binaryOutputs = false;
  let outputs: AskedOutput[] = [];

  members(cur, 'the request', (key) => {
    if (key === 'id') {
      if (cur.peek() !== 0x22) throw badRequest('"id" must be a string');
      id = cur.string();
    } else if (key === 'parameters') {
      const flag = readParameters(cur, 'the request').get('binary_data_output');
      if (flag !== undefined && typeof flag !== 'boolean') throw badRequest('parameter "binary_data_output" must be a boolean');
      binaryOutputs = flag === true;
    } else if (key === 'inputs') {
      if (cur.peek() !== 0x5b) throw badRequest('"inputs" must be an array of {"name", "shape", "datatype", "data"}');
      sawInputs = true;
      cur.array(() => {
        const input = readInput(cur, (header) => {
          if (tensors.has(header.name) || binarySlots.some((s) => s.name === header.name)) {
            throw new InvalidTensorError(`input "${header.name}" appears twice`, { tensor: header.name });
          }
          const spec = specs.get(header.name);
          if (spec && spec.type !== header.type) {
            throw new InputMismatchError(
              'type_mismatch',
              `input "${header.name}" must be ${kserveDatatype(spec.type)}, got ${header.datatype}`,
              header.name,
            );
          }
          checker.check(header);
        });
        if ('tensor' in input) tensors.set(input.header.name, input.tensor);
        else binarySlots.push(input.header);
      });
    } else if (key === 'outputs') {
      outputs = readOutputs(cur, model.outputs);
    } else cur.skipValue(0);
  });
  cur.ws();
  if (cur.pos !== json.length) throw invalidJson(cur.pos);
  if (!sawInputs) throw badRequest('body must have "inputs": [{"name", "shape", "datatype", "data"}]');
  checker.finish();

  if (binarySlots.length > 0 && headerLength === null) {
    throw badRequest(`inputs with "binary_data_size" need the ${INFERENCE_HEADER_LENGTH} header (the binary tensor data extension)`);
  }
  if (headerLength !== null) readBinaryData(body.subarray(headerLength), binarySlots, tensors);
  return {
    id,
    binaryOutputs,
    // An empty list names no output: every output is returned, as when there is none.
    outputs: outputs.length > 0 ? outputs.map((o) => ({ name: o.name, binary: o.binary ?? binaryOutputs })) : null,
    inputs: encodeTensors(Object.fromEntries(tensors)),
  };
}

// Calls `member(key)` for each member of the object at `pos`, refusing a key given twice.
function members(cur: JsonCursor, what: string, member: (key: string) => void): void {
  const seen = new Set<string>();
  cur.object((key) => {
    if (seen.has(key)) throw badRequest(`"${key}" appears twice in ${what}`);
    seen.add(key);
    member(key);
  });
}

// A `$parameters` object: its scalar values by name. The protocol's values are strings, numbers and
// booleans; anything else a client adds is skipped, as are parameters this server does not define.
function readParameters(cur: JsonCursor, where: string): Map<string, Scalar> {
  if (cur.peek() !== 0x7b) throw badRequest(`"parameters" of ${where} must be an object`);
  const out = new Map<string, Scalar>();
  members(cur, `the parameters of ${where}`, (key) => {
    const value = cur.element();
    if (value !== COMPOSITE) out.set(key, value);
  });
  return out;
}

function checkShape(name: string, shape: unknown[] | 'invalid' | undefined): number[] {
  if (shape === undefined || shape === 'invalid' || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new InvalidTensorError(`input "${name}": shape must be an array of non-negative integers`, { tensor: name });
  }
  if (shape.length > MAX_DIMS) throw new InvalidTensorError(`input "${name}": at most ${MAX_DIMS} dimensions`, { tensor: name });
  if (elementCount(shape as number[]) > MAX_ELEMENTS)
    throw new InvalidTensorError(`input "${name}": more than ${MAX_ELEMENTS} elements`, { tensor: name });
  return shape as number[];
}

// One `$request_input`. Its members may come in any order: `data` is converted once name, datatype
// and shape are known and `check` (the model's) accepted them; a `data` that comes first is skipped
// (its syntax checked, nothing built) and converted after the object ends.
function readInput(cur: JsonCursor, check: (header: Header) => void): { header: Header; tensor: Tensor } | { header: Header } {
  expectObject(cur, 'each of "inputs" must be an object {"name", "shape", "datatype", "data"}');
  let name: string | undefined;
  let datatype: unknown;
  let shape: unknown[] | 'invalid' | undefined;
  let binarySize: Scalar | undefined;
  let data: { start: number } | { tensor: Tensor } | 'invalid' | undefined;
  let checked: Header | undefined;
  const header = (): Header => {
    if (!checked) {
      if (name === undefined) throw badRequest('each of "inputs" needs a string "name"');
      const type = tensorTypeOf(name, datatype);
      const dims = checkShape(name, shape);
      checked = { name, type, datatype: datatype as string, dims, count: elementCount(dims) };
      check(checked);
    }
    return checked;
  };
  members(cur, 'an input', (key) => {
    if (key === 'name') {
      if (cur.peek() !== 0x22) throw badRequest('an input\'s "name" must be a string');
      name = cur.string();
    } else if (key === 'datatype') {
      const value = cur.element();
      datatype = value === COMPOSITE ? null : value;
    } else if (key === 'shape') shape = readJsonDims(cur);
    else if (key === 'parameters') binarySize = readParameters(cur, `input "${name ?? '?'}"`).get('binary_data_size');
    else if (key === 'data') {
      if (cur.peek() !== 0x5b) {
        cur.skipValue(0);
        data = 'invalid';
      } else if (name !== undefined && datatype !== undefined && shape !== undefined) {
        data = { tensor: convertData(cur, header()) };
      } else {
        data = { start: cur.pos };
        cur.skipValue(0);
      }
    } else cur.skipValue(0);
  });
  const h = header();
  if (binarySize !== undefined) {
    if (data !== undefined) throw new InvalidTensorError(`input "${h.name}" has both "data" and "binary_data_size"`, { tensor: h.name });
    const bytes = h.count * ELEMENT_SIZE[h.type];
    if (binarySize !== bytes) {
      throw new InvalidTensorError(
        `input "${h.name}": binary_data_size is ${JSON.stringify(binarySize)} but shape [${h.dims.join(', ')}] of ${h.datatype} holds ${bytes} bytes`,
        { tensor: h.name },
      );
    }
    return { header: h };
  }
  if (data === undefined || data === 'invalid') throw new InvalidTensorError(`input "${h.name}": "data" must be an array`, { tensor: h.name });
  if ('tensor' in data) return { header: h, tensor: data.tensor };
  const end = cur.pos;
  cur.pos = data.start;
  const tensor = convertData(cur, h);
  cur.pos = end;
  return { header: h, tensor };
}

// Converts the `data` array at `pos` into a tensor of the checked header. The array is either flat
// (row-major) or nested level by level as the shape is; either way it is refused as soon as it holds
// more elements than the shape, and nothing beyond the shape's bytes is allocated.
function convertData(cur: JsonCursor, h: Header): Tensor {
  const bytes = new Uint8Array(h.count * ELEMENT_SIZE[h.type]);
  const view = new DataView(bytes.buffer);
  const rank = h.dims.length;
  const fail = (why: string): InvalidTensorError => new InvalidTensorError(`input "${h.name}": ${why}`, { tensor: h.name });
  const holds = `shape [${h.dims.join(', ')}] holds ${h.count} elements`;
  let index = 0;
  let topNested = false;
  // Reads the array at `pos` at nesting `depth`; returns its length.
  const walk = (depth: number): number => {
    let nested: boolean | undefined;
    return cur.array(() => {
      const isArray = cur.peek() === 0x5b;
      if (nested === undefined) {
        nested = isArray;
        if (depth === 0) topNested = isArray;
      } else if (nested !== isArray) throw fail('data mixes arrays and values at one level');
      if (isArray) {
        if (depth + 1 >= rank) throw fail(`data nests deeper than its shape [${h.dims.join(', ')}]`);
        const n = walk(depth + 1);
        if (n !== h.dims[depth + 1])
          throw fail(`data has ${n} elements at depth ${depth + 1} where shape [${h.dims.join(', ')}] has ${h.dims[depth + 1]}`);
        return;
      }
      if (depth > 0 && depth !== rank - 1) throw fail(`data has values at depth ${depth} where shape [${h.dims.join(', ')}] nests ${rank - 1} deep`);
      if (index >= h.count) throw fail(`${holds} but data has more`);
      const v = cur.element();
      const why = writeJsonElement(h.type, view, bytes, index, v === COMPOSITE ? undefined : v);
      if (why) throw new InvalidTensorError(`input "${h.name}": data[${index}] ${why.replace(h.type, h.datatype)}`, { tensor: h.name, index });
      index++;
    });
  };
  const top = walk(0);
  if (topNested && top !== h.dims[0]) throw fail(`data has ${top} elements at depth 0 where shape [${h.dims.join(', ')}] has ${h.dims[0]}`);
  if (index !== h.count) throw fail(`${holds} but data has ${index}`);
  return { type: h.type, dims: h.dims, data: bytes };
}

// The binary tensor data extension: the bytes after the JSON are the binary inputs' data, in order.
function readBinaryData(binary: Uint8Array, slots: readonly Header[], tensors: Map<string, Tensor>): void {
  let offset = 0;
  for (const h of slots) {
    const size = h.count * ELEMENT_SIZE[h.type];
    if (offset + size > binary.length) throw badRequest(`the body ends before the ${size} bytes of binary data of input "${h.name}"`);
    const data = binary.slice(offset, offset + size);
    // The canonical encoding has one byte per BOOL, 0 or 1, so that one tensor has one hash.
    if (h.type === 'bool' && data.some((b) => b > 1))
      throw new InvalidTensorError(`input "${h.name}": BOOL data must be bytes 0 or 1`, { tensor: h.name });
    tensors.set(h.name, { type: h.type, dims: h.dims, data });
    offset += size;
  }
  if (offset !== binary.length) throw badRequest(`${binary.length - offset} bytes follow the inputs' binary data`);
}

// The `outputs` asked for: names the model has, each once, with their `binary_data` parameter.
function readOutputs(cur: JsonCursor, specs: readonly TensorSpec[]): AskedOutput[] {
  if (cur.peek() !== 0x5b) throw badRequest('"outputs" must be an array of {"name"}');
  const out: AskedOutput[] = [];
  cur.array(() => {
    expectObject(cur, 'each of "outputs" must be an object {"name", "parameters"}');
    let name: string | undefined;
    let params = new Map<string, Scalar>();
    members(cur, 'an output', (key) => {
      if (key === 'name') {
        if (cur.peek() !== 0x22) throw badRequest('an output\'s "name" must be a string');
        name = cur.string();
      } else if (key === 'parameters') params = readParameters(cur, 'an output');
      else cur.skipValue(0);
    });
    if (name === undefined) throw badRequest('each of "outputs" needs a string "name"');
    if (!specs.some((s) => s.name === name)) {
      throw new InvalidRequestError('unknown_output', `model has no output "${name}" (outputs: ${specs.map((s) => s.name).join(', ')})`, {
        output: name,
      });
    }
    if (out.some((o) => o.name === name)) throw badRequest(`output "${name}" is asked for twice`);
    const binary = params.get('binary_data');
    if (binary !== undefined && typeof binary !== 'boolean') throw badRequest(`output "${name}": parameter "binary_data" must be a boolean`);
    // Triton's classification extension would answer with labels instead of the tensor: refused, not ignored.
    if (params.has('classification')) {
      throw new InvalidRequestError('unsupported_parameter', `output "${name}": the classification extension is not supported`, { output: name });
    }
    out.push({ name, binary });
  });
  return out;
}
