/** Try text detection: an uploaded image goes through ppocr-det (free); the boxes are drawn once the receipt verifies. */
import { infer, type InferenceContext } from '../../sdk/src/infer';
import { detectionInput, textBoxes } from '../../sdk/src/vision/text-detection';
import { describeError, el, showVerdict } from './common';

const MODEL = 'ppocr-det';
const form = document.getElementById('try-form') as HTMLFormElement;
const file = document.getElementById('image') as HTMLInputElement;
const run = document.getElementById('run') as HTMLButtonElement;
const progress = document.getElementById('progress')!;
const canvas = document.getElementById('canvas') as HTMLCanvasElement;
const output = document.getElementById('verdict')!;
// The inference call alone (not the whole client): the page stays small. Receipts are checked
// against this gateway's registered backends.
const context: InferenceContext = { gateway: { gateway: location.origin }, trustedBackends: 'gateway', cache: { versions: new Map() } };

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const chosen = file.files?.[0];
  if (!chosen) return;
  run.disabled = true;
  void detect(chosen).finally(() => {
    run.disabled = false;
  });
});

async function detect(image: File): Promise<void> {
  output.hidden = true;
  progress.textContent = 'Reading the image…';
  const bitmap = await createImageBitmap(image);
  const scale = Math.min(1, 1280 / Math.max(bitmap.width, bitmap.height)); // large photos are shown (and sent) smaller
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const input = detectionInput(pixels, { maxSide: 960 });
  progress.textContent = `Detecting text (${input.tensor.dims[3]}×${input.tensor.dims[2]} pixels)…`;
  try {
    const result = await infer(context, MODEL, { x: input.tensor });
    const map = Object.values(result.outputs)[0]!;
    const boxes = textBoxes(map, { scaleX: input.scaleX, scaleY: input.scaleY, imageWidth: canvas.width, imageHeight: canvas.height });
    ctx.lineWidth = Math.max(2, canvas.width / 400);
    ctx.strokeStyle = '#e8590c';
    for (const b of boxes) ctx.strokeRect(b.x, b.y, b.width, b.height);
    progress.replaceChildren(
      `${boxes.length} text region${boxes.length === 1 ? '' : 's'} found in ${result.receipt.timings.runMs.toFixed(0)} ms on ${result.receipt.executionProvider}. `,
      el('a', 'See the receipt', { href: `/receipts/${result.receipt.requestId}` }),
    );
    showVerdict(output, true, [], `receipt verified: signed by registered backend ${result.verification?.signer}`);
  } catch (err) {
    progress.textContent = '';
    showVerdict(output, false, [(err as { code?: string }).code ?? 'failed'], describeError(err));
  }
}
