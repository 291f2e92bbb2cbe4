import type { Address, Hex } from 'viem';
import type { Attestation, Intent } from '../attestation';

/** Lifecycle of a task. */
export type TaskStatus = 'collecting_policy_data' | 'signing' | 'completed' | 'failed';

/** A task as `GET /v1/tasks/:id` shows it. */
export interface TaskView {
  taskId: Hex;
  status: TaskStatus;
  policyId: Hex;
  policyClient: string;
  chainId: number;
  intent: Intent;
  createdAt: number;
  expiration: number;
  deadline: string;
  thresholdBps: number;
  /** The registry snapshot the task is judged under. */
  registry: Address;
  registryBlock: number;
  totalStake: string;
  policyData: Record<string, unknown> | null;
  policyDataHash: Hex | null;
  signers: string[];
  nonSigners: string[];
  verdicts: { digest: Hex; allowed: boolean; signedStake: string; signers: string[] }[];
  rejected: { operatorId: string; phase: 'policy_data' | 'sign'; reason: string }[];
  attestation: Attestation | null;
  failure: { code: string; message: string } | null;
}
