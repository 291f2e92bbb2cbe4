import { ProofgateError } from '../errors';

/** Stable machine-readable codes for errors thrown by the attestation primitives. */
export type AttestationErrorCode =
  | 'invalid_key_material'
  | 'invalid_secret_key'
  | 'invalid_public_key'
  | 'invalid_signature_encoding'
  | 'empty_aggregate'
  | 'invalid_proof_of_possession'
  | 'duplicate_operator'
  | 'invalid_operator_signature'
  | 'unknown_operator'
  | 'invalid_stake'
  | 'registry_mismatch';

/** Base class of every error thrown by core/attestation; `code` is stable, `message` is not. */
export class AttestationError extends ProofgateError {
  declare readonly code: AttestationErrorCode;

  constructor(code: AttestationErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, 400);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** A secret key, public key or key-generation input is unusable. */
export class BlsKeyError extends AttestationError {}

/** A signature does not decode to a valid, non-identity G2 subgroup point, or cannot be aggregated. */
export class BlsSignatureError extends AttestationError {}

/** Operator admission or attestation assembly refused its input. */
export class OperatorRegistryError extends AttestationError {}
