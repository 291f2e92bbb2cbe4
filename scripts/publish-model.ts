import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const HELP = `npm run publish-model -- --gateway URL --name NAME --file MODEL.onnx [--price UNITS] [--settlement sync|async]

Publishes an ONNX model to a gateway with the admin token in PROOFGATE_ADMIN_TOKEN (never on the
command line). Models up to --part-bytes (32 MiB) go in one request; larger ones as a multipart
upload, one part per request, so no request nears Cloudflare's body limit and the Worker never
holds the model. The gateway's answer (version, sha256, inputs, outputs) is printed as JSON once the
sha256 it computed matches this file's.
`;

/** What a publish needs: the gateway, its admin token, the model's hub name and file, its price and settlement. */
export interface ModelUpload {
  gateway: string;
  adminToken: string;
  name: string;
  file: string;
  price?: string;
  settlement?: 'sync' | 'async';
  /** Part size of a multipart upload, and the size above which one is used (default 32 MiB). */
  partBytes?: number;
  /** Use the multipart upload whatever the size. */
  multipart?: boolean;
  log?: (line: string) => void;
}

/** The gateway's answer to a publish. */
export interface PublishedModel {
  name: string;
  version: number;
  sha256: string;
  size: number;
  created: boolean;
  [field: string]: unknown;
}

const DEFAULT_PART_BYTES = 32 * 1024 * 1024;

/** Publishes a model file (single request or multipart by size) and checks the gateway hashed what was sent. */
export async function uploadModelFile(upload: ModelUpload): Promise<PublishedModel> {
  const partBytes = upload.partBytes ?? DEFAULT_PART_BYTES;
  const { size } = await stat(upload.file);
  const hash = createHash('sha256');
  const handle = await open(upload.file);
  try {
    const query = `price=${upload.price ?? '0'}&settlement=${upload.settlement ?? 'sync'}`;
    const base = `${upload.gateway.replace(/\/+$/, '')}/v1/models/${encodeURIComponent(upload.name)}`;
    const auth = { authorization: `Bearer ${upload.adminToken}` };
    let published: PublishedModel;
    if (size <= partBytes && !upload.multipart) {
      const bytes = await readPart(handle, 0, size);
      hash.update(bytes);
      published = await expectJson(await fetch(`${base}/versions?${query}`, { method: 'POST', headers: auth, body: bytes }), 'publish');
    } else {
      const { uploadId } = await expectJson<{ uploadId: string }>(await fetch(`${base}/uploads`, { method: 'POST', headers: auth }), 'start upload');
      try {
        const parts: { partNumber: number; etag: string }[] = [];
        for (let offset = 0, partNumber = 1; offset < size; offset += partBytes, partNumber++) {
          const bytes = await readPart(handle, offset, Math.min(partBytes, size - offset));
          hash.update(bytes);
          parts.push(await withRetries(() => sendPart(`${base}/uploads/${uploadId}/parts/${partNumber}`, auth, bytes), `part ${partNumber}`));
          upload.log?.(`part ${partNumber} (${offset + bytes.byteLength} of ${size} bytes)`);
        }
        published = await expectJson(
          await fetch(`${base}/uploads/${uploadId}/complete?${query}`, {
            method: 'POST',
            headers: { ...auth, 'content-type': 'application/json' },
            body: JSON.stringify({ parts }),
          }),
          'complete upload',
        );
      } catch (err) {
        await fetch(`${base}/uploads/${uploadId}`, { method: 'DELETE', headers: auth }).catch(() => undefined);
        throw err;
      }
    }
    const sha256 = `0x${hash.digest('hex')}`;
    if (published.sha256 !== sha256) throw new Error(`the gateway stored ${published.sha256}, the file hashes to ${sha256}`);
    return published;
  } finally {
    await handle.close();
  }
}

async function readPart(handle: Awaited<ReturnType<typeof open>>, offset: number, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await handle.read(bytes, read, length - read, offset + read);
    if (bytesRead === 0) throw new Error('the file changed while it was being uploaded');
    read += bytesRead;
  }
  return bytes;
}

async function sendPart(url: string, auth: Record<string, string>, bytes: Uint8Array): Promise<{ partNumber: number; etag: string }> {
  return expectJson(await fetch(url, { method: 'PUT', headers: auth, body: bytes }), 'upload part');
}

// A part is retried on a network error or a 5xx; R2 keeps the last copy of a part number.
async function withRetries<T>(attempt: () => Promise<T>, what: string): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i === 3 || (err instanceof HttpError && err.status < 500)) throw err;
      process.stderr.write(`${what}: ${err instanceof Error ? err.message : String(err)}; retrying\n`);
    }
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function expectJson<T = PublishedModel>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  if (!res.ok) throw new HttpError(res.status, `${what} failed: HTTP ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gateway: { type: 'string' },
      name: { type: 'string' },
      file: { type: 'string' },
      price: { type: 'string', default: '0' },
      settlement: { type: 'string', default: 'sync' },
      'part-bytes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const adminToken = process.env['PROOFGATE_ADMIN_TOKEN'];
  if (values.help || !values.gateway || !values.name || !values.file || !adminToken) {
    process.stdout.write(HELP);
    if (!values.help && !adminToken) process.stderr.write('PROOFGATE_ADMIN_TOKEN is not set\n');
    process.exit(values.help ? 0 : 2);
  }
  if (values.settlement !== 'sync' && values.settlement !== 'async') throw new Error('--settlement is sync or async');
  const published = await uploadModelFile({
    gateway: values.gateway,
    adminToken,
    name: values.name,
    file: values.file,
    price: values.price!,
    settlement: values.settlement,
    ...(values['part-bytes'] ? { partBytes: Number(values['part-bytes']) } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(published, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
