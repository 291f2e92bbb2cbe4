/**
 * Inputs from files, as `proofgate infer --input` takes them: a JSON file of tensors, a NumPy .npy
 * array, or an image (PNG or JPEG, preprocessed for PaddleOCR-style detection models). A spec is
 * `FILE` (for a model with one input) or `NAME=FILE`.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { UsageError } from './cli-config';
import type { TensorInput, TensorSpec, TensorType } from '../sdk/src/index';
import { detectionInput } from '../sdk/src/vision/text-detection';

/** Reads every `--input` spec into named tensors; `specs` are the model's declared inputs. */
export function readInputs(specs: readonly string[], modelInputs: readonly TensorSpec[]): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const named = eq > 0 && !spec.slice(0, eq).includes('/') ? spec.slice(0, eq) : undefined;
    const file = named ? spec.slice(eq + 1) : spec;
    const ext = extname(file).toLowerCase();
    if (ext === '.json') {
      const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const tensors = (doc['inputs'] ?? doc) as Record<string, TensorInput>;
      if (named) {
        if (!('data' in tensors)) throw new UsageError(`${file}: NAME=FILE.json needs one tensor {type, dims, data}`);
        out[named] = tensors as unknown as TensorInput;
      } else Object.assign(out, tensors);
      continue;
    }
    const name = named ?? soleInput(modelInputs, file);
    if (ext === '.npy') out[name] = readNpy(file);
    else if (['.png', '.jpg', '.jpeg'].includes(ext)) out[name] = detectionInput(readImage(file)).tensor;
    else throw new UsageError(`${file}: inputs are .json, .npy, .png or .jpg files`);
  }
  return out;
}

function soleInput(inputs: readonly TensorSpec[], file: string): string {
  if (inputs.length !== 1) {
    throw new UsageError(
      `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}): name them, e.g. --input ${inputs[0]?.name ?? 'x'}=${file}`,
    );
  }
  return inputs[0]!.name;
}

/** Decodes a PNG or JPEG file to RGBA pixels. */
export function readImage(file: string): { width: number; height: number; data: Uint8Array } {
  const bytes = readFileSync(file);
  if (bytes[0] === 0x89 && bytes[1] === 0x50) {
    const png = PNG.sync.read(bytes);
    return { width: png.width, height: png.height, data: png.data };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new UsageError(`${file}: not a PNG or JPEG image`);
}

const NPY_TYPES: Readonly<Record<string, TensorType>> = {
  '<f4': 'float32',
  '<f2': 'float16',
  '|i1': 'int8',
  '|u1': 'uint8',
  '<i2': 'int16',
  '<u2': 'uint16',
  '<i4': 'int32',
  '<u4': 'uint32',
  '<i8': 'int64',
  '<u8': 'uint64',
  '|b1': 'bool',
};

/**
 * Reads a NumPy .npy file (format 1.0 to 3.0, little-endian, C order). Written here because the
 * format is a short text header followed by exactly the raw little-endian element bytes a tensor
 * carries; a library would turn them into JavaScript numbers and back.
 */
export function readNpy(file: string): TensorInput {
  const bytes = new Uint8Array(readFileSync(file));
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new UsageError(`${file}: not a .npy file`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const type = descr ? NPY_TYPES[descr] : undefined;
  if (!type) throw new UsageError(`${file}: unsupported dtype ${descr} (little-endian numeric or bool arrays only)`);
  if (fortran) throw new UsageError(`${file}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const dims = (shape ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  return { type, dims, data: bytes.slice(start + headerLen) };
}
