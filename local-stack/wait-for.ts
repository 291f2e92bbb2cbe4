import { createServer } from 'node:net';
import type { StartedProcess } from './process-group';

/** Polls `url` until `ready(response)` holds, the process dies, or `timeoutMs` passes. */
export async function waitForHttp(
  url: string, ready: (res: Response) => Promise<boolean> | boolean, opts: { timeoutMs: number; process?: StartedProcess; what: string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exited = false;
  void opts.process?.exited.then(() => { exited = true; });
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

/** Asks the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** True when `port` on 127.0.0.1 can be listened on. */
export async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
