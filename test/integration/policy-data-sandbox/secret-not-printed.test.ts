import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// In a process of its own (price-feed-process.ts), so everything the runtime prints is captured:
// the rest of runPolicyData is tested in process, in test/unit/policy-data-sandbox/run-policy-data.test.ts.

const SECRET = 'pk_live_7f3a9c1e5b2d4a60';
const execFileAsync = promisify(execFile);
const CHILD = fileURLToPath(new URL('./price-feed-process.ts', import.meta.url));

describe('runPolicyData in a process of its own', () => {
  let server: Server;
  let host: string;
  const hits: IncomingMessage[] = [];

  before(async () => {
    // Answers 200 only with the right API key.
    server = createServer((req, res) => {
      hits.push(req);
      const authorized = req.headers['x-api-key'] === SECRET;
      res.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
      res.end(authorized ? '{"price": 1834.25}' : '{"error":"unauthorized"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('passes a secret to the module through secrets_get without printing its value', async () => {
    const child = await execFileAsync(process.execPath, ['--import', 'tsx', CHILD, `http://${host}/price`, host], {
      env: { ...process.env, PRICE_API_KEY: SECRET },
      timeout: 60_000,
    });
    // The server answers 200 only to the right key, so the module did send the secret.
    assert.equal(hits.at(-1)?.headers['x-api-key'], SECRET);
    assert.equal(JSON.parse(child.stdout).output, 1834.25);
    assert.ok(!child.stdout.includes(SECRET), 'stdout holds no secret');
    assert.ok(!child.stderr.includes(SECRET), 'stderr holds no secret');
  });
});
