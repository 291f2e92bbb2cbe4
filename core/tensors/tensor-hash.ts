import { bytesToHex, type Hex } from 'viem';
import { encodeTensors } from './tensor-codec';
import type { TensorMap } from './tensor';

/** sha256 of bytes as 0x-hex, via Web Crypto (native in Workers, Node and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<Hex> {
  // The cast satisfies the DOM typing of digest (browsers), which refuses views of a SharedArrayBuffer.
  return bytesToHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)));
}

/** The inputHash/outputHash of a tensor set: sha256 of its canonical encoding. */
export async function hashTensors(tensors: TensorMap): Promise<Hex> {
  return sha256Hex(encodeTensors(tensors));
}
