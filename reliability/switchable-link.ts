import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How a link behaves: `pass` forwards; `down` is unreachable (every connection is reset, as a dead
 * host or a cut network looks to the caller); `settle-down` forwards everything but `/settle`, whose
 * connections are reset (the facilitator verified the payment before the work, then vanished).
 */
export type LinkMode = 'pass' | 'down' | 'settle-down';

/** A loopback HTTP proxy in front of a service (the facilitator, the chain's JSON-RPC) that the suite can cut. */
export interface SwitchableLink {
  url: string;
  mode: LinkMode;
  /** Requests that reached the proxy, and those it cut. */
  counts: { forwarded: number; cut: number };
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 forwarding to `target` (e.g. http://127.0.0.1:8545). */
export async function switchableLink(target: string): Promise<SwitchableLink> {
  const link = { mode: 'pass' as LinkMode, counts: { forwarded: 0, cut: 0 } };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (link.mode === 'down' || (link.mode === 'settle-down' && path === '/settle')) {
      link.counts.cut++;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      link.counts.forwarded++;
      const body = Buffer.concat(chunks);
      fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'GET',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        ...(req.method === 'POST' ? { body } : {}),
      })
        .then(async (upstream) => {
          const text = Buffer.from(await upstream.arrayBuffer());
          res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
        })
        .catch(() => req.socket.destroy());
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(link, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
