/** Verifiable authorization: BLS operator keys, policy attestations and their verification. */
export * from './errors';
export * from './bls-keys';
export * from './bls-signatures';
export * from './intent-hash';
export * from './attestation-digest';
export * from './attestation';
export * from './quorum';
export * from './operator-registry';
export * from './assemble-attestation';
export * from './verify-attestation';
export * from './eip2537';
export * from './quorum-tally';
export * from './policy-data-consensus';
