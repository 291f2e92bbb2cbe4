import type { StartedProcess } from './process-group';

/** Polls `url` until `ready(response)` holds, the process dies, or `timeoutMs` passes. */
export async function waitForHttp(
  url: string,
  ready: (res: Response) => Promise<boolean> | boolean,
  opts: { timeoutMs: number; process?: StartedProcess; what: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exited = false;
  void opts.process?.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`${opts.what} exited before it was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (await ready(res)) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${opts.what} was not ready after ${opts.timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
