import type { Hex } from 'viem';
import { sha256Hex } from '../../core/tensors';
import { getBlobResponse } from './api';
import { BlobHashMismatchError } from './errors';
import type { GatewayOptions } from './gateway';

/**
 * Downloads a published model by its sha256 (`GET /v1/blobs/{sha256}`) and checks that the bytes
 * hash to it, so that whoever served them cannot substitute another model.
 */
export async function downloadModel(g: GatewayOptions, sha256: Hex): Promise<Uint8Array> {
  const bytes = new Uint8Array(await (await getBlobResponse(g, sha256)).arrayBuffer());
  const actual = await sha256Hex(bytes);
  if (actual !== sha256.toLowerCase()) throw new BlobHashMismatchError(sha256.toLowerCase(), actual);
  return bytes;
}
