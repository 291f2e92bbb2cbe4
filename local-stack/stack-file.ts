import { readFile } from 'node:fs/promises';

/**
 * `.proofgate/local-stack.json`: what `npm start` started, for tests and tools. Later issues add
 * fields; existing ones are never renamed.
 */
export interface LocalStackFile {
  gateway: string;
  adminToken: string;
  operatorToken: string;
  /** `operator`: the operator the backend belongs to (quorum mode), when the stack runs operators. */
  backends: { id: string; url: string; address: string; pid: number; operator?: string }[];
  models: { name: string; version: number; sha256: string }[];
  /** The local payment chain (x402): anvil, the pgUSD token, who is paid, the facilitator, a funded dev payer. */
  chain?: {
    rpc: string;
    chainId: number;
    token: string;
    tokenName: string;
    tokenVersion: string;
    payTo: string;
    facilitator: string;
    /** The address the facilitator settles from (what `upto` payments name in their witness). */
    facilitatorAddress?: string;
    /** A dev key holding pgUSD, printed as such: never use it for anything real. */
    payerPrivateKey: string;
    /** The AttestationValidator contract, reading the OperatorRegistry (when operators run). */
    attestationValidator?: string;
    /** The OperatorRegistry contract: operators' BLS keys, stakes and membership (when operators run). */
    operatorRegistry?: string;
  };
  /** Operator nodes that evaluate intents and BLS-sign verdicts. */
  operators?: { id: string; url: string; blsPublicKey: string; stake: string }[];
  /** The demo intent policy (with one PolicyData module) for `POST /v1/intents`. */
  demoPolicyId?: string;
}

/** Default location of the stack file, relative to the repository root. */
export const STACK_FILE = '.proofgate/local-stack.json';

/** Reads a stack file written by `npm start`. */
export async function readStackFile(path = STACK_FILE): Promise<LocalStackFile> {
  return JSON.parse(await readFile(path, 'utf8')) as LocalStackFile;
}
