import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectionInput, textBoxes } from '../../../sdk/src/vision/text-detection';

describe('text detection pre- and post-processing', () => {
  it('resizes to multiples of 32 within the longest side, normalizes, and lays out BGR planes', () => {
    const width = 100;
    const height = 50;
    const data = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) data.set([255, 0, 0, 255], i * 4); // pure red
    const { tensor, scaleX, scaleY } = detectionInput({ width, height, data }, { maxSide: 64 });
    assert.deepEqual(tensor.dims, [1, 3, 32, 64]);
    assert.equal(scaleX, 100 / 64);
    assert.equal(scaleY, 50 / 32);
    const plane = 32 * 64;
    // Plane 0 is blue (0), plane 2 is red (255), each normalized with its own mean and std.
    assert.ok(Math.abs(tensor.data[0]! - (0 - 0.485) / 0.229) < 1e-6);
    assert.ok(Math.abs(tensor.data[2 * plane]! - (1 - 0.406) / 0.225) < 1e-6);
  });

  it('finds one box per connected text region, drops faint and tiny ones, and scales to the image', () => {
    const w = 40;
    const h = 20;
    const map = new Float32Array(w * h);
    const fill = (x0: number, y0: number, x1: number, y1: number, p: number) => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) map[y * w + x] = p;
    };
    fill(2, 2, 12, 6, 0.9); // a word
    fill(20, 10, 36, 16, 0.8); // another
    fill(30, 1, 36, 4, 0.4); // faint: above the pixel threshold, below the box threshold
    fill(1, 17, 2, 18, 0.95); // a speck
    const boxes = textBoxes({ type: 'float32', dims: [1, 1, h, w], data: map }, { scaleX: 2, scaleY: 2 });
    assert.equal(boxes.length, 2);
    const [first, second] = boxes;
    // The 10x4 region grows by DB's unclip distance, 10*4*1.5 / (2*(10+4)) ≈ 2.14, then doubles.
    const d = (10 * 4 * 1.5) / 28;
    assert.ok(Math.abs(first!.x - (2 - d) * 2) < 1e-9 && Math.abs(first!.width - (10 + 2 * d) * 2) < 1e-9);
    assert.ok(Math.abs(first!.score - 0.9) < 1e-6);
    assert.ok(second!.y > first!.y);
  });
});
