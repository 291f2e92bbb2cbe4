import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProofgateError } from '../core/errors';
import { isSha256Id } from '../core/hex';

/** A model whose bytes could not be had, or did not match their hash. */
export class ModelFetchError extends ProofgateError {
  constructor(message: string) {
    super('model_unavailable', message, 502);
  }
}

/**
 * Model bytes by sha256: read from the disk cache, or fetched once from the gateway's blob endpoint,
 * checked against the hash, and written atomically (temp file + rename) so a crash leaves no half file.
 */
export class ModelCache {
  private readonly pending = new Map<string, Promise<Uint8Array>>();

  constructor(
    private readonly dir: string,
    private readonly gatewayUrl: string,
  ) {}

  /** The bytes of the model with this sha256 (0x-hex). */
  get(sha256: string): Promise<Uint8Array> {
    let p = this.pending.get(sha256);
    if (!p) {
      p = this.load(sha256).finally(() => this.pending.delete(sha256));
      this.pending.set(sha256, p);
    }
    return p;
  }

  private async load(sha256: string): Promise<Uint8Array> {
    if (!isSha256Id(sha256)) throw new ModelFetchError(`bad model hash ${sha256}`);
    const file = join(this.dir, `${sha256.slice(2)}.onnx`);
    const cached = await readFile(file).catch(() => null);
    if (cached && digest(cached) === sha256) return new Uint8Array(cached);
    const res = await fetch(`${this.gatewayUrl}/v1/blobs/${sha256}`, { signal: AbortSignal.timeout(300_000) });
    if (!res.ok) throw new ModelFetchError(`gateway answered ${res.status} for model ${sha256}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (digest(bytes) !== sha256) throw new ModelFetchError(`model bytes from the gateway do not hash to ${sha256}`);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, file);
    return bytes;
  }
}

function digest(bytes: Uint8Array): string {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}
