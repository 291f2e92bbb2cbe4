/**
 * How a caller asks for an inference call to be run: `?mode=quorum&k=N` (N backends of N distinct
 * operators, answered with a stake quorum's attestation), or by one backend (no `mode`). Trusted
 * execution (`mode=tee`) and zero-knowledge proofs (`mode=zkml`) are named so that a caller asking
 * for them learns, with a 501, that no backend here can honour them, rather than getting less.
 */
import { InvalidRequestError, ProofgateError } from '../../../core/errors';

/** The fewest and most operators a quorum call may ask for. */
export const QUORUM_K = { min: 2, max: 16, default: 2 } as const;

/** How one call runs. */
export type CallMode = { kind: 'single' } | { kind: 'quorum'; k: number };

/** A mode no backend of this gateway can honour. */
export class ModeNotAvailableError extends ProofgateError {
  constructor(mode: 'tee' | 'zkml') {
    super(
      `${mode}_not_available`,
      mode === 'tee'
        ? 'no backend here runs models in a trusted execution environment with remote attestation; use mode=quorum for an operator-attested result'
        : 'no backend here proves its inference in zero knowledge; use mode=quorum for an operator-attested result',
      501,
    );
  }
}

/** The mode a request's query asks for; 400 for an unknown mode or k, 501 for tee and zkml. Checked before anything else. */
export function callMode(url: URL): CallMode {
  const mode = url.searchParams.get('mode');
  const k = url.searchParams.get('k');
  if (mode === null) {
    if (k !== null) throw new InvalidRequestError('invalid_mode', 'k is for mode=quorum');
    return { kind: 'single' };
  }
  if (mode === 'tee' || mode === 'zkml') throw new ModeNotAvailableError(mode);
  if (mode !== 'quorum') throw new InvalidRequestError('invalid_mode', 'mode must be quorum (tee and zkml are not available)');
  if (k === null) return { kind: 'quorum', k: QUORUM_K.default };
  const n = Number(k);
  if (!/^[0-9]{1,2}$/.test(k) || n < QUORUM_K.min || n > QUORUM_K.max) {
    throw new InvalidRequestError('invalid_quorum_size', `k must be an integer from ${QUORUM_K.min} to ${QUORUM_K.max}`);
  }
  return { kind: 'quorum', k: n };
}
