/**
 * What a model's publisher declares at upload for quorum inference: the share of operator stake a
 * quorum attestation of its outputs needs, and how far operators' float outputs may differ and
 * still agree (absolute and relative bounds; integer and bool outputs agree only when equal).
 * Both are stored with the version (D1 migration 0010) and signed into every attestation.
 */
import type { OutputTolerance } from '../../core/attestation';
import { InvalidRequestError } from '../../core/errors';

/** A model version's quorum terms. */
export interface QuorumTerms {
  /** The quorum an attestation needs, in basis points of the operators' total stake. */
  thresholdBps: number;
  /** How far operators' float outputs may be from the reference and still agree. */
  tolerance: OutputTolerance;
}

/** The quorum of a model whose publisher names none: two thirds of stake, as the demo policies ask. */
export const DEFAULT_QUORUM_THRESHOLD_BPS = 6700;

// A plain decimal number (no sign, no hex, no Infinity): what a tolerance is written as.
const DECIMAL = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$/;

/**
 * The quorum terms of a publish request's query: `quorumBps` (1–10000, default 6700),
 * `absTolerance` and `relTolerance` (finite decimal numbers ≥ 0, default 0: identical outputs).
 */
export function checkQuorumTerms(query: URLSearchParams): QuorumTerms {
  const bps = query.get('quorumBps');
  const thresholdBps = bps === null ? DEFAULT_QUORUM_THRESHOLD_BPS : Number(bps);
  if (!/^[0-9]{1,5}$/.test(bps ?? '1') || !Number.isInteger(thresholdBps) || thresholdBps < 1 || thresholdBps > 10_000) {
    throw new InvalidRequestError('invalid_quorum', 'quorumBps must be an integer from 1 to 10000 (basis points of operator stake)');
  }
  return { thresholdBps, tolerance: { absolute: tolerance(query, 'absTolerance'), relative: tolerance(query, 'relTolerance') } };
}

function tolerance(query: URLSearchParams, key: string): number {
  const raw = query.get(key);
  if (raw === null) return 0;
  const value = Number(raw);
  if (!DECIMAL.test(raw) || !Number.isFinite(value)) {
    throw new InvalidRequestError('invalid_tolerance', `${key} must be a finite decimal number ≥ 0 (e.g. 1e-5)`);
  }
  return value;
}

/** The stored form of a tolerance (the shortest decimal that reads back as the same number). */
export function toleranceText(value: number): string {
  return String(value);
}
