/**
 * A backend's operator: the operator's BLS key, handed to each of its backends as a key file (the
 * same file format as the operator's signer node), with which the backend proves at registration
 * that the operator runs it (the attachment signature) and signs inference digests in quorum mode.
 * Distinct operators are what a quorum counts, so the gateway never takes a backend's word for
 * whose it is: it checks this signature, and at each quorum that the key is the operator's on chain.
 */
import { readFileSync } from 'node:fs';
import { bytesToHex, hexToBytes, type Address, type Hex } from 'viem';
import { getPublicKey, secretScalar, signMessage } from '../core/attestation';
import { OPERATOR_ID } from '../core/operator-protocol';
import { operatorAttachmentMessage, type OperatorAttachment } from '../core/backend-protocol';
import { ProofgateError } from '../core/errors';
import { isBytes32 } from '../core/hex';

/** The operator a backend belongs to: its id (as registered on chain) and BLS key. */
export interface BackendOperator {
  id: string;
  secretKey: Uint8Array;
  /** 48-byte compressed G1 public key. */
  publicKey: Hex;
}

/** The operator key file is missing, malformed, or the id is not an operator id. */
export class OperatorKeyError extends ProofgateError {
  constructor(message: string) {
    super('invalid_operator_key', message, 400);
  }
}

/** Reads the operator's BLS secret key (0x-hex, 32 bytes, as the signer node keeps it) for operator `id`. */
export function loadBackendOperator(keyFile: string, id: string): BackendOperator {
  if (!OPERATOR_ID.test(id)) throw new OperatorKeyError(`"${id}" is not an operator id (letters, digits, ".", "_", "-", at most 64)`);
  let text = '';
  try {
    text = readFileSync(keyFile, 'utf8').trim();
  } catch {
    throw new OperatorKeyError(`${keyFile} cannot be read`);
  }
  if (!isBytes32(text)) throw new OperatorKeyError(`${keyFile} does not hold a 0x-hex 32-byte BLS secret key`);
  const secretKey = hexToBytes(text as Hex);
  try {
    secretScalar(secretKey);
  } catch {
    throw new OperatorKeyError(`${keyFile} does not hold a valid BLS secret key`);
  }
  return { id, secretKey, publicKey: bytesToHex(getPublicKey(secretKey)) };
}

/** The `operator` field of a registration: the operator's signature over this backend, URL and time. */
export function operatorAttachment(operator: BackendOperator, fields: { backend: Address; url: string; issuedAt: number }): OperatorAttachment {
  const message = operatorAttachmentMessage({ operatorId: operator.id, ...fields });
  return { id: operator.id, blsPublicKey: operator.publicKey, signature: bytesToHex(signMessage(operator.secretKey, message)) };
}
