/**
 * Workers started ahead of need. Starting a worker thread (and its TypeScript, through tsx) costs
 * about as much as a PolicyData run itself, so the worker of the next run is started while the
 * process idles and waits for its job. Each worker still runs exactly one job, with fresh memory,
 * and is terminated after it: nothing a module does can reach the next run.
 */
import { Worker } from 'node:worker_threads';

/** V8 heap limits of a PolicyData worker; module memory is bounded separately (declared maximum, or the component cap). */
export const RESOURCE_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16, codeRangeSizeMb: 64, stackSizeMb: 4 };

interface Spare {
  worker: Worker;
  exited: boolean;
}

const spares = new Map<string, Spare>();

function start(url: URL): Spare {
  const spare: Spare = { worker: new Worker(url, { resourceLimits: RESOURCE_LIMITS }), exited: false };
  // An idle spare neither keeps the process alive nor crashes it; a failed one is replaced when taken.
  spare.worker.unref();
  spare.worker.on('error', () => {});
  spare.worker.once('exit', () => {
    spare.exited = true;
  });
  return spare;
}

/** Makes sure a spare worker of this entry file is starting or waiting. */
export function prestartWorker(url: URL): void {
  const spare = spares.get(url.href);
  if (!spare || spare.exited) spares.set(url.href, start(url));
}

/**
 * A worker of this entry file, waiting for its job (a message): the spare if one is ready, else
 * a new one. Another spare is started for the next run.
 */
export function takeWorker(url: URL): Worker {
  let spare = spares.get(url.href);
  spares.delete(url.href);
  if (!spare || spare.exited) spare = start(url);
  spare.worker.ref();
  setImmediate(() => prestartWorker(url));
  return spare.worker;
}
