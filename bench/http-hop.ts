import { createServer, type Server } from 'node:http';

/**
 * A localhost HTTP server that reads a POST body and answers with as many bytes as the request's
 * `reply-bytes` header asks: one network hop carrying a call's bytes with no work on them, the
 * floor under every hop of the data path (client → Worker → backend) on this machine.
 */
export async function startHttpHop(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
    });
    req.on('end', () => {
      const size = Number(req.headers['reply-bytes'] ?? 0);
      res.writeHead(200, { 'content-length': size, 'received-bytes': received });
      res.end(new Uint8Array(size));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
