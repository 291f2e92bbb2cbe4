import { bytesToHex, type Hex } from 'viem';
import type { ModelSignature } from '../../core/onnx';
import { ProtobufStreamReader } from './protobuf-stream-reader';
import { readStreamedModelSignature } from './streamed-model-signature';

const CHUNK_BYTES = 1024 * 1024;

/** What the hub learns of a model's bytes in one streamed pass: their hash, size and signature. */
export interface InspectedModel {
  sha256: Hex;
  size: number;
  signature: ModelSignature;
}

/**
 * Reads a model's bytes once, as a stream: sha256 (workerd's DigestStream, native code) and the ONNX
 * signature (streamed-model-signature.ts) at the same time, holding no more than a chunk and the
 * graph's declarations. Throws InvalidModelError when the bytes are not a model Proofgate can serve.
 */
export async function inspectModelStream(body: ReadableStream<Uint8Array>): Promise<InspectedModel> {
  const digest = new crypto.DigestStream('SHA-256');
  const hash = digest.getWriter();
  // Reads of at least CHUNK_BYTES: R2 streams arrive in pieces of a few KiB, and each piece read costs
  // a round through the hash and the parser; large reads keep that cost per megabyte, not per piece.
  const source = body.getReader({ mode: 'byob' });
  let size = 0;
  const reader = new ProtobufStreamReader(async () => {
    for (;;) {
      const { done, value } = await source.readAtLeast(CHUNK_BYTES, new Uint8Array(CHUNK_BYTES));
      if (value && value.byteLength > 0) {
        size += value.byteLength;
        await hash.write(value);
        return value;
      }
      if (done) return null;
    }
  });
  try {
    // The signature reader consumes the whole stream, so the digest covers every byte.
    const signature = await readStreamedModelSignature(reader);
    await hash.close();
    return { sha256: bytesToHex(new Uint8Array(await digest.digest)), size, signature };
  } catch (err) {
    await source.cancel().catch(() => undefined);
    await hash.abort().catch(() => undefined);
    throw err;
  }
}
