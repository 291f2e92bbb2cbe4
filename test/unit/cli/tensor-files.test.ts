import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { readImage, readInputs, readNpy } from '../../../cli/tensor-files';
import { encodeInputs } from '../../../sdk/src/tensors';

// `proofgate infer --input` files: JSON tensors, NumPy .npy arrays (as numpy.save writes them) and images.

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proofgate-cli-inputs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The bytes numpy.save writes for a C-order array (format 1.0: header padded so data starts on 64 bytes). */
function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

describe('CLI input files', () => {
  it('reads .npy arrays of numeric and bool types, and refuses Fortran order and big-endian data', async () => {
    const f32 = new Float32Array([1.5, -2, 3, 4, 5, 6]);
    await writeFile(join(dir, 'a.npy'), npy('<f4', [2, 3], new Uint8Array(f32.buffer)));
    const a = readNpy(join(dir, 'a.npy'));
    assert.deepEqual(encodeInputs({ a }), encodeInputs({ a: { dims: [2, 3], data: f32 } }));
    await writeFile(join(dir, 'n.npy'), npy('<i8', [2], new Uint8Array(new BigInt64Array([7n, -1n]).buffer)));
    assert.deepEqual(readNpy(join(dir, 'n.npy')), { type: 'int64', dims: [2], data: new Uint8Array(new BigInt64Array([7n, -1n]).buffer) });
    await writeFile(join(dir, 's.npy'), npy('<i8', [], new Uint8Array(new BigInt64Array([16000n]).buffer)));
    assert.deepEqual(readNpy(join(dir, 's.npy')).dims, []);
    await writeFile(join(dir, 'b.npy'), npy('|b1', [3], new Uint8Array([1, 0, 1])));
    assert.equal(readNpy(join(dir, 'b.npy')).type, 'bool');
    await writeFile(join(dir, 'be.npy'), npy('>f4', [1], new Uint8Array(4)));
    assert.throws(() => readNpy(join(dir, 'be.npy')), /unsupported dtype >f4/);
    const fortran = npy('<f4', [1], new Uint8Array(4));
    fortran.set(new TextEncoder().encode("'fortran_order': True "), 10 + 17);
    await writeFile(join(dir, 'f.npy'), fortran);
    assert.throws(() => readNpy(join(dir, 'f.npy')), /Fortran/);
  });

  it('decodes PNG and JPEG images to RGBA', async () => {
    const png = new PNG({ width: 3, height: 2 });
    png.data.fill(200);
    await writeFile(join(dir, 'i.png'), PNG.sync.write(png));
    const p = readImage(join(dir, 'i.png'));
    assert.deepEqual([p.width, p.height, p.data.length], [3, 2, 24]);
    const jpg = jpeg.encode({ width: 4, height: 4, data: Buffer.alloc(64, 128) }, 90);
    await writeFile(join(dir, 'i.jpg'), jpg.data);
    const j = readImage(join(dir, 'i.jpg'));
    assert.deepEqual([j.width, j.height, j.data.length], [4, 4, 64]);
  });

  it("names a file by the model's only input, or by NAME=FILE, and reads JSON tensors", async () => {
    const spec = [{ name: 'x', type: 'float32' as const, dims: [1, 3, null, null] }];
    const img = new PNG({ width: 40, height: 20 });
    img.data.fill(255);
    await writeFile(join(dir, 'page.png'), PNG.sync.write(img));
    const fromImage = readInputs([join(dir, 'page.png')], spec);
    assert.deepEqual(fromImage['x']?.dims, [1, 3, 32, 32]);
    await writeFile(join(dir, 't.json'), JSON.stringify({ inputs: { a: { type: 'int32', dims: [1], data: [5] } } }));
    await writeFile(join(dir, 'one.json'), JSON.stringify({ type: 'int32', dims: [1], data: [6] }));
    const both = readInputs([join(dir, 't.json'), `b=${join(dir, 'one.json')}`], []);
    assert.deepEqual(Object.keys(both).sort(), ['a', 'b']);
    assert.throws(() => readInputs([join(dir, 'a.npy')], [...spec, { ...spec[0]!, name: 'y' }]), /name them/);
  });
});
