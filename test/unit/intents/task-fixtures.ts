/** Operators with real BLS keys and a task as the gateway sends it, shared by the authorization unit tests. */
import { bytesToHex, type Address, type Hex } from 'viem';
import { createProofOfPossession, emptyRegistry, generateKeyPair, admitOperator, type OperatorRegistry } from '../../../core/attestation';
import type { IntentTask } from '../../../core/operator-protocol';

export const KEYS = [1, 2, 3].map((seed) => generateKeyPair(new Uint8Array(32).fill(seed)));
export const STAKES = [50n, 30n, 20n];
/** The OperatorRegistry contract and block the fixture tasks name. */
export const REGISTRY: Address = '0x00000000000000000000000000000000000000e9';
export const REGISTRY_BLOCK = 7;

/** The registry snapshot of the three operators, admitted with their proofs of possession. */
export function registry(): OperatorRegistry {
  return KEYS.reduce<OperatorRegistry>(
    (r, key, i) =>
      admitOperator(r, {
        id: `operator-${i + 1}`,
        blsPublicKey: bytesToHex(key.publicKey),
        proofOfPossession: bytesToHex(createProofOfPossession(key.secretKey)),
        stake: STAKES[i]!,
      }),
    emptyRegistry(REGISTRY, REGISTRY_BLOCK),
  );
}

export const POLICY = `package proofgate.intent

import rego.v1

default allow := false

allow if {
  not input.to in data.params.blocked
  to_number(input.value) <= data.params.maxValue
}

deny contains "recipient is blocked" if input.to in data.params.blocked
deny contains "value above limit" if to_number(input.value) > data.params.maxValue
`;

/** A task under POLICY (params overridable), as a node sees it once it resolved the policy's content. */
export function makeTask(overrides: Partial<IntentTask> = {}): IntentTask {
  return {
    taskId: `0x${'0a'.repeat(32)}` as Hex,
    policyId: `0x${'0b'.repeat(32)}` as Hex,
    policyClient: '0x00000000000000000000000000000000000000c1',
    chainId: 31337,
    intent: {
      from: '0x1111111111111111111111111111111111111111',
      to: '0x2222222222222222222222222222222222222222',
      value: '1000',
      data: '0x',
      chainId: 31337,
    },
    modules: { 'intent.rego': POLICY },
    entrypoint: 'data.proofgate.intent',
    params: { maxValue: 5000, blocked: ['0x000000000000000000000000000000000000dEaD'] },
    policyData: [],
    thresholdBps: 6700,
    registry: REGISTRY,
    registryBlock: REGISTRY_BLOCK,
    createdAt: 1_800_000_000,
    expiration: 1_800_003_600,
    ...overrides,
  };
}
