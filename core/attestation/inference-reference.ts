/**
 * Phase 1 of a quorum inference: from the outputs that operators' backends returned for the same
 * model and input, fix the reference output that the agreeing operators then sign. Identical
 * outputs (same hash) agree; float outputs also agree within the tolerance the model's publisher
 * declared; integer and bool outputs, names, types and dims must be equal. The same functions run
 * in the gateway's Durable Object (which fixes the reference) and on each backend (which signs only
 * a reference its own output agrees with), so both judge agreement alike.
 */
import type { Hex } from 'viem';
import { fromFloat16Bits, type Tensor, type TensorMap } from '../tensors';
import type { OutputTolerance } from './inference-attestation';

/** True when `value` (an operator's element) lies within the tolerance of `reference`. */
export function withinTolerance(value: number, reference: number, tolerance: OutputTolerance): boolean {
  if (Number.isNaN(reference) || Number.isNaN(value)) return Number.isNaN(reference) && Number.isNaN(value);
  if (!Number.isFinite(reference) || !Number.isFinite(value)) return value === reference;
  return Math.abs(value - reference) <= tolerance.absolute + tolerance.relative * Math.abs(reference);
}

/**
 * Whether an operator's outputs agree with the reference: the same output names, types and dims;
 * every element of a float output within the tolerance; every other byte equal. A zero tolerance
 * asks for identical bytes.
 */
export function outputsAgree(reference: TensorMap, candidate: TensorMap, tolerance: OutputTolerance): boolean {
  const names = Object.keys(reference);
  if (names.length !== Object.keys(candidate).length) return false;
  const exact = tolerance.absolute === 0 && tolerance.relative === 0;
  for (const name of names) {
    const r = reference[name]!;
    const c = candidate[name];
    if (!c || c.type !== r.type || c.dims.length !== r.dims.length || c.dims.some((d, i) => d !== r.dims[i])) return false;
    if (c.data.byteLength !== r.data.byteLength) return false;
    if (!exact && (r.type === 'float32' || r.type === 'float16')) {
      if (!floatsAgree(r, c, tolerance)) return false;
    } else if (!sameBytes(r.data, c.data)) {
      return false;
    }
  }
  return true;
}

function floatsAgree(r: Tensor, c: Tensor, tolerance: OutputTolerance): boolean {
  const rv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  const cv = new DataView(c.data.buffer, c.data.byteOffset, c.data.byteLength);
  const size = r.type === 'float32' ? 4 : 2;
  for (let offset = 0; offset < r.data.byteLength; offset += size) {
    const a = size === 4 ? rv.getFloat32(offset, true) : fromFloat16Bits(rv.getUint16(offset, true));
    const b = size === 4 ? cv.getFloat32(offset, true) : fromFloat16Bits(cv.getUint16(offset, true));
    if (!withinTolerance(b, a, tolerance)) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One operator's phase 1 result as the reference is fixed from it. */
export interface OperatorOutput {
  operatorId: string;
  /** The operator's stake in the quorum's registry snapshot. */
  stake: bigint;
  /** sha256 of the canonical encoding of `outputs` (what the backend's receipt signs). */
  outputHash: Hex;
  outputs: TensorMap;
}

/** The reference output and who agrees with it. */
export interface ReferenceResult {
  /** The operator whose output is the reference (the first, in the given order, among those with the reference hash). */
  referenceOperator: string;
  outputHash: Hex;
  /** Operators whose outputs agree with the reference (identical, or within the tolerance), in the given order. */
  agreeing: string[];
  agreeingStake: bigint;
}

/**
 * Fixes the reference among the operators' outputs: the distinct output whose agreeing operators
 * hold the most stake; ties go to the output more operators' stake returned byte for byte, then to
 * the lower hash, so every party that sees the same outputs fixes the same reference. Null when
 * there are none.
 */
export function fixReferenceOutput(results: readonly OperatorOutput[], tolerance: OutputTolerance): ReferenceResult | null {
  const candidates = new Map<string, OperatorOutput>();
  for (const r of results) if (!candidates.has(r.outputHash.toLowerCase())) candidates.set(r.outputHash.toLowerCase(), r);
  let best: (ReferenceResult & { identicalStake: bigint }) | null = null;
  for (const [hash, representative] of candidates) {
    const agreeing = results.filter((r) => r.outputHash.toLowerCase() === hash || outputsAgree(representative.outputs, r.outputs, tolerance));
    const agreeingStake = agreeing.reduce((sum, r) => sum + r.stake, 0n);
    const identicalStake = agreeing.filter((r) => r.outputHash.toLowerCase() === hash).reduce((sum, r) => sum + r.stake, 0n);
    const better =
      best === null ||
      agreeingStake > best.agreeingStake ||
      (agreeingStake === best.agreeingStake &&
        (identicalStake > best.identicalStake || (identicalStake === best.identicalStake && hash < best.outputHash)));
    if (better) {
      best = {
        referenceOperator: representative.operatorId,
        outputHash: hash as Hex,
        agreeing: agreeing.map((r) => r.operatorId),
        agreeingStake,
        identicalStake,
      };
    }
  }
  if (best === null) return null;
  const { identicalStake: _identical, ...reference } = best;
  return reference;
}
