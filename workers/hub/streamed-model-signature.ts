/**
 * The inputs and outputs of an ONNX model read from a stream, for uploads too large to hold. The
 * graph's declarations sit after its weights (protobuf writes fields in number order: initializers
 * are field 5, inputs 11, outputs 12), so there is no reading them from the first bytes: the whole
 * stream goes by once, weights are skipped, and what core/onnx reads of a model (the IR version,
 * the initializers' names, the inputs and outputs) is kept and handed to core/onnx's own reader as a
 * minimal model. The same bytes thus get the same signature, and the same errors, as in memory.
 */
import { concatBytes } from 'viem';
import { InvalidModelError, readModelSignature, type ModelSignature } from '../../core/onnx';
import { WireFormatError, encodeFieldKey, encodeLengthDelimited, encodeVarint } from '../../core/onnx/protobuf-wire';
import { type ProtobufStreamReader, WIRE_LENGTH_DELIMITED, WIRE_VARINT } from './protobuf-stream-reader';

// Field numbers of onnx.proto that core/onnx reads.
const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const TENSOR_NAME = 8;

// Bounds on what is held in memory; real models are orders of magnitude below them.
const MAX_VALUE_INFO_BYTES = 1024 * 1024;
const MAX_NAME_BYTES = 64 * 1024;
const MAX_GRAPH_VALUES = 1_000_000;

interface GraphParts {
  initializerNames: Uint8Array[];
  inputs: Uint8Array[];
  outputs: Uint8Array[];
}

/**
 * Reads a whole ONNX model from `reader` and returns its signature; throws InvalidModelError when
 * the bytes are not a model Proofgate can serve (as readModelSignature does for bytes in memory).
 */
export async function readStreamedModelSignature(reader: ProtobufStreamReader): Promise<ModelSignature> {
  try {
    let irVersion: bigint | undefined;
    let graph: GraphParts | undefined;
    while (!(await reader.atEnd())) {
      const { field, wireType } = await reader.key();
      if (field === MODEL_IR_VERSION && wireType === WIRE_VARINT) irVersion = await reader.varint();
      else if (field === MODEL_GRAPH && wireType === WIRE_LENGTH_DELIMITED) graph = await readGraphParts(reader, await reader.length());
      else await reader.skipValue(wireType);
    }
    return readModelSignature(minimalModel(irVersion, graph));
  } catch (err) {
    if (err instanceof WireFormatError) throw new InvalidModelError(`not an ONNX model: ${err.message}`);
    throw err;
  }
}

async function readGraphParts(reader: ProtobufStreamReader, length: number): Promise<GraphParts> {
  const end = reader.offset + length;
  const parts: GraphParts = { initializerNames: [], inputs: [], outputs: [] };
  let count = 0;
  while (reader.offset < end) {
    const { field, wireType } = await reader.key();
    if (wireType !== WIRE_LENGTH_DELIMITED) {
      await reader.skipValue(wireType);
    } else {
      const len = await reader.length();
      if (reader.offset + len > end) throw new WireFormatError('truncated length-delimited field');
      if (field === GRAPH_INITIALIZER || field === GRAPH_INPUT || field === GRAPH_OUTPUT) {
        if (++count > MAX_GRAPH_VALUES) throw new InvalidModelError('the graph declares more than a million initializers, inputs and outputs');
      }
      if (field === GRAPH_INITIALIZER) parts.initializerNames.push(await readTensorName(reader, len));
      else if (field === GRAPH_INPUT || field === GRAPH_OUTPUT) {
        if (len > MAX_VALUE_INFO_BYTES) throw new InvalidModelError('a graph input or output declaration is larger than 1 MiB');
        (field === GRAPH_INPUT ? parts.inputs : parts.outputs).push(await reader.bytes(len));
      } else await reader.skip(len);
    }
    if (reader.offset > end) throw new WireFormatError('truncated field');
  }
  return parts;
}

// An initializer's name: its first `name` field (as core/onnx reads it); the rest, weights included,
// is skipped unread.
async function readTensorName(reader: ProtobufStreamReader, length: number): Promise<Uint8Array> {
  const end = reader.offset + length;
  let name: Uint8Array = new Uint8Array(0);
  let found = false;
  while (!found && reader.offset < end) {
    const { field, wireType } = await reader.key();
    if (field === TENSOR_NAME && wireType === WIRE_LENGTH_DELIMITED) {
      const len = await reader.length();
      if (len > MAX_NAME_BYTES) throw new InvalidModelError('an initializer name is longer than 64 KiB');
      if (reader.offset + len > end) throw new WireFormatError('truncated length-delimited field');
      name = await reader.bytes(len);
      found = true;
    } else {
      await reader.skipValue(wireType);
    }
    if (reader.offset > end) throw new WireFormatError('truncated field');
  }
  await reader.skip(end - reader.offset);
  return name;
}

// A ModelProto holding only what readModelSignature reads, in the order it was found.
function minimalModel(irVersion: bigint | undefined, graph: GraphParts | undefined): Uint8Array {
  const fields: Uint8Array[] = [];
  if (irVersion !== undefined) fields.push(Uint8Array.from([...encodeFieldKey(MODEL_IR_VERSION, WIRE_VARINT), ...encodeVarint(irVersion)]));
  if (graph) {
    const graphFields = [
      ...graph.initializerNames.map((n) => encodeLengthDelimited(GRAPH_INITIALIZER, encodeLengthDelimited(TENSOR_NAME, n))),
      ...graph.inputs.map((b) => encodeLengthDelimited(GRAPH_INPUT, b)),
      ...graph.outputs.map((b) => encodeLengthDelimited(GRAPH_OUTPUT, b)),
    ];
    fields.push(encodeLengthDelimited(MODEL_GRAPH, concatBytes(graphFields)));
  }
  return concatBytes(fields);
}
