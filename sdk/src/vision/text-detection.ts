/**
 * Image pre- and post-processing for PaddleOCR's text detection model (DB, the demo `ppocr-det`),
 * in plain JavaScript so that browsers, Node and Workers share it: an RGBA image becomes the model's
 * input tensor, and the model's probability map becomes text boxes in the image's coordinates.
 */
import type { TypedTensor } from '../tensors';

/** Pixels as canvas `ImageData` holds them: RGBA, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

/** How an image is turned into the detector's input. */
export interface DetectionInputOptions {
  /** Longest side after resizing (PaddleOCR's limit_side_len, default 960). */
  maxSide?: number;
  /** Per-channel mean and standard deviation of 0..1 pixel values, in the model's channel order (BGR). */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

/** The detector's input and how to map its coordinates back onto the image. */
export interface DetectionInput {
  /** `float32[1, 3, H, W]`, H and W multiples of 32. */
  tensor: TypedTensor<'float32'>;
  /** Image pixels per model pixel, horizontally and vertically. */
  scaleX: number;
  scaleY: number;
}

/** A detected text region, axis-aligned, in image pixels; `score` is its mean text probability. */
export interface TextBox {
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * PaddleOCR's DetResizeForTest and NormalizeImage: resize (bilinear) so the longest side is at most
 * `maxSide` with both sides multiples of 32, scale to 0..1, normalize, and lay out BGR planes (CHW).
 */
export function detectionInput(image: RgbaImage, options: DetectionInputOptions = {}): DetectionInput {
  const maxSide = options.maxSide ?? 960;
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  const ratio = Math.min(1, maxSide / Math.max(image.width, image.height));
  const round32 = (v: number): number => Math.max(32, Math.round((v * ratio) / 32) * 32);
  const w = round32(image.width);
  const h = round32(image.height);
  const out = new Float32Array(3 * w * h);
  const sx = image.width / w;
  const sy = image.height / h;
  const px = (x: number, y: number, c: number): number => image.data[(y * image.width + x) * 4 + c]!;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(image.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(image.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(image.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(image.width - 1, x0 + 1);
      const wx = fx - x0;
      for (let plane = 0; plane < 3; plane++) {
        const c = 2 - plane; // plane 0 is blue: PaddleOCR reads images as OpenCV does (BGR)
        const v = (px(x0, y0, c) * (1 - wx) + px(x1, y0, c) * wx) * (1 - wy) + (px(x0, y1, c) * (1 - wx) + px(x1, y1, c) * wx) * wy;
        out[plane * w * h + y * w + x] = (v / 255 - mean[plane]!) / std[plane]!;
      }
    }
  }
  return { tensor: { type: 'float32', dims: [1, 3, h, w], data: out }, scaleX: sx, scaleY: sy };
}

/** How the probability map becomes boxes (PaddleOCR DBPostProcess's defaults). */
export interface TextBoxOptions {
  /** Pixels above this probability are text (default 0.3). */
  threshold?: number;
  /** Regions whose mean probability is below this are dropped (default 0.6). */
  boxThreshold?: number;
  /** How much each region grows back, as DB's unclip ratio (default 1.5). */
  unclipRatio?: number;
  /** Regions smaller than this many model pixels on a side are dropped (default 3). */
  minSize?: number;
  scaleX?: number;
  scaleY?: number;
  /** Clip boxes to the image (its size in image pixels). */
  imageWidth?: number;
  imageHeight?: number;
}

/**
 * DB post-processing, axis-aligned: threshold the map, take 4-connected regions, drop faint and tiny
 * ones, grow each box by area × unclipRatio / perimeter (DB's unclip distance), and scale it to the
 * image. `probabilities` is the model's `float32[1, 1, H, W]` output.
 */
export function textBoxes(probabilities: TypedTensor, options: TextBoxOptions = {}): TextBox[] {
  const dims = probabilities.dims;
  const h = dims[dims.length - 2]!;
  const w = dims[dims.length - 1]!;
  const p = probabilities.data as Float32Array;
  const threshold = options.threshold ?? 0.3;
  const boxThreshold = options.boxThreshold ?? 0.6;
  const unclip = options.unclipRatio ?? 1.5;
  const minSize = options.minSize ?? 3;
  const sx = options.scaleX ?? 1;
  const sy = options.scaleY ?? 1;
  const seen = new Uint8Array(w * h);
  const stack: number[] = [];
  const boxes: TextBox[] = [];
  for (let start = 0; start < w * h; start++) {
    if (seen[start] || !(p[start]! > threshold)) continue;
    let minX = w;
    let minY = h;
    let maxX = -1;
    let maxY = -1;
    let sum = 0;
    let count = 0;
    seen[start] = 1;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop()!;
      const x = i % w;
      const y = (i - x) / w;
      sum += p[i]!;
      count++;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
      for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, y > 0 ? i - w : -1, y < h - 1 ? i + w : -1]) {
        if (j >= 0 && !seen[j] && p[j]! > threshold) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    const bw = maxX - minX + 1;
    const bh = maxY - minY + 1;
    const score = sum / count;
    if (Math.min(bw, bh) < minSize || score < boxThreshold) continue;
    const d = (bw * bh * unclip) / (2 * (bw + bh));
    let x0 = (minX - d) * sx;
    let y0 = (minY - d) * sy;
    let x1 = (maxX + 1 + d) * sx;
    let y1 = (maxY + 1 + d) * sy;
    if (options.imageWidth !== undefined) [x0, x1] = [Math.max(0, x0), Math.min(options.imageWidth, x1)];
    if (options.imageHeight !== undefined) [y0, y1] = [Math.max(0, y0), Math.min(options.imageHeight, y1)];
    boxes.push({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, score });
  }
  return boxes.sort((a, b) => a.y - b.y || a.x - b.x);
}
