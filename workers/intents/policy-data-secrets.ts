/**
 * A policy client's secrets for a PolicyData binary (API keys its modules send to their data
 * sources), scoped as Newton scopes them: per (policy client, PolicyData). The admin stores them;
 * they are kept sealed under a key derived from GATEWAY_SECRET, never served back, and handed,
 * sealed to the asking operator's node key, only to an operator of a task in its PolicyData phase
 * whose policy runs that binary for that policy client. See docs/newton-compatibility.md for what
 * this protects and what it does not.
 */
import { and, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { getAddress, hexToBytes, type Hex } from 'viem';
import { z } from 'zod';
import { ProofgateError } from '../../core/errors';
import { addressSchema } from '../../core/hex';
import { deriveNodeAuthKey, operatorAuthLabel } from '../../core/node-protocol';
import {
  SECRETS_REQUEST_HEADERS,
  SECRETS_REQUEST_MAX_SKEW_MS,
  deliveredSecretsBinding,
  openSecrets,
  policyDataSecretsSchema,
  sealSecrets,
  storedSecretsBinding,
  verifySecretsRequest,
  type secretsRequestSchema,
} from '../../core/policy-data-secrets';
import { policyDataModules } from '../../schema';
import { policyDataSecrets } from '../../schema/policy-data-secrets';
import { getPolicy } from '../policies/policy-store';
import { PolicyDataNotFoundError } from './policy-data-store';
import { getTask } from './intent-tasks';
import type { TaskQuorum } from '../../durable-objects/task-quorum';

/** Body of `PUT /v1/policy-data/:sha256/secrets/:policyClient`: the secrets, replacing any stored before. */
export const putSecretsBody = z.object({ secrets: policyDataSecretsSchema }).strict();

/** What the gateway tells about stored secrets: their names, never their values. */
export interface StoredSecretsView {
  policyClient: string;
  policyData: Hex;
  names: string[];
  updatedAt: string;
}

/** No secrets are stored for that policy client and PolicyData. */
export class SecretsNotFoundError extends ProofgateError {
  constructor(policyClient: string, sha256: string) {
    super('secrets_not_found', `no secrets are stored for policy client ${policyClient} and PolicyData ${sha256}`, 404);
  }
}

/** The secrets request is not an operator's, or not one the gateway answers. */
export class SecretsRequestRefusedError extends ProofgateError {
  constructor(status: 401 | 403, message: string) {
    super(status === 401 ? 'invalid_signature' : 'secrets_refused', message, status);
  }
}

const utf8 = new TextEncoder();

function scope(policyClientParam: string, sha256Param: string): { policyClient: string; sha256: Hex } {
  const client = addressSchema.safeParse(policyClientParam);
  if (!client.success) throw new ProofgateError('invalid_request', 'the policy client must be an address', 400);
  if (!/^0x[0-9a-fA-F]{64}$/.test(sha256Param)) throw new ProofgateError('invalid_sha256', 'expected 0x followed by 64 hex digits', 400);
  return { policyClient: client.data.toLowerCase(), sha256: sha256Param.toLowerCase() as Hex };
}

/** Stores (or replaces) a policy client's secrets for an uploaded PolicyData binary. */
export async function putPolicyDataSecrets(
  db: D1Database,
  gatewaySecret: string,
  params: { policyClient: string; sha256: string },
  secrets: Record<string, string>,
  nowMs: number,
): Promise<StoredSecretsView> {
  const { policyClient, sha256 } = scope(params.policyClient, params.sha256);
  const orm = drizzle(db);
  const module = await orm.select().from(policyDataModules).where(eq(policyDataModules.sha256, sha256)).limit(1);
  if (module.length === 0) throw new PolicyDataNotFoundError(sha256);
  const sealed = await sealSecrets(utf8.encode(gatewaySecret), 'at-rest', storedSecretsBinding(policyClient, sha256), secrets);
  const names = Object.keys(secrets).sort();
  const row = { policyClient, policyData: sha256, sealed, names: JSON.stringify(names), updatedAt: nowMs };
  await orm
    .insert(policyDataSecrets)
    .values(row)
    .onConflictDoUpdate({
      target: [policyDataSecrets.policyClient, policyDataSecrets.policyData],
      set: { sealed, names: row.names, updatedAt: nowMs },
    });
  return { policyClient: getAddress(policyClient), policyData: sha256, names, updatedAt: new Date(nowMs).toISOString() };
}

/** The names of the stored secrets (404 `secrets_not_found` when there are none). */
export async function getPolicyDataSecretNames(db: D1Database, params: { policyClient: string; sha256: string }): Promise<StoredSecretsView> {
  const { policyClient, sha256 } = scope(params.policyClient, params.sha256);
  const row = await storedRow(db, policyClient, sha256);
  if (!row) throw new SecretsNotFoundError(policyClient, sha256);
  return {
    policyClient: getAddress(policyClient),
    policyData: sha256,
    names: JSON.parse(row.names) as string[],
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
}

/** Deletes the stored secrets (404 `secrets_not_found` when there are none). */
export async function deletePolicyDataSecrets(db: D1Database, params: { policyClient: string; sha256: string }): Promise<void> {
  const { policyClient, sha256 } = scope(params.policyClient, params.sha256);
  const deleted = await drizzle(db)
    .delete(policyDataSecrets)
    .where(and(eq(policyDataSecrets.policyClient, policyClient), eq(policyDataSecrets.policyData, sha256)))
    .returning({ policyClient: policyDataSecrets.policyClient });
  if (deleted.length === 0) throw new SecretsNotFoundError(policyClient, sha256);
}

/**
 * Answers an operator's request for the secrets of a task's PolicyData: the HMAC must be under the
 * node key of the operator it names (and fresh), the operator a member of the task's registry
 * snapshot, the task still in its PolicyData phase, and the binary one of its policy's PolicyData.
 * The secrets of the task's policy client come back sealed to that operator's key; null if none.
 */
export async function deliverPolicyDataSecrets(
  stores: { db: D1Database; tasks: DurableObjectNamespace<TaskQuorum>; gatewaySecret: string },
  headers: Headers,
  body: z.infer<typeof secretsRequestSchema>,
  nowMs: number,
): Promise<{ sealed: Hex | null }> {
  const operatorId = headers.get(SECRETS_REQUEST_HEADERS.operator) ?? '';
  const timestamp = Number(headers.get(SECRETS_REQUEST_HEADERS.timestamp));
  const signature = headers.get(SECRETS_REQUEST_HEADERS.signature) ?? '';
  if (!operatorId || !Number.isSafeInteger(timestamp) || Math.abs(nowMs - timestamp) > SECRETS_REQUEST_MAX_SKEW_MS) {
    throw new SecretsRequestRefusedError(401, 'a secrets request needs a fresh operator id, timestamp and signature');
  }
  const request = { operatorId, taskId: body.taskId, sha256: body.sha256, timestamp };
  const authKey = await deriveNodeAuthKey(stores.gatewaySecret, operatorAuthLabel(operatorId));
  if (!(await verifySecretsRequest(authKey, request, signature))) throw new SecretsRequestRefusedError(401, 'the signature is not the operator’s');

  const task = await getTask(stores.tasks, body.taskId);
  if (task.status !== 'collecting_policy_data') throw new SecretsRequestRefusedError(403, 'the task is past its PolicyData phase');
  if (![...task.signers, ...task.nonSigners].includes(operatorId))
    throw new SecretsRequestRefusedError(403, `${operatorId} is not an operator of the task`);
  const policy = await getPolicy(stores.db, task.policyId);
  if (!policy.policyData.some((p) => p.sha256.toLowerCase() === body.sha256)) {
    throw new SecretsRequestRefusedError(403, 'the task’s policy does not run that PolicyData');
  }
  const policyClient = task.policyClient.toLowerCase();
  const row = await storedRow(stores.db, policyClient, body.sha256);
  if (!row) return { sealed: null };
  const secrets = await openSecrets(utf8.encode(stores.gatewaySecret), 'at-rest', storedSecretsBinding(policyClient, body.sha256), row.sealed as Hex);
  return { sealed: await sealSecrets(hexToBytes(authKey), 'delivery', deliveredSecretsBinding(request), secrets) };
}

async function storedRow(db: D1Database, policyClient: string, sha256: string) {
  const rows = await drizzle(db)
    .select()
    .from(policyDataSecrets)
    .where(and(eq(policyDataSecrets.policyClient, policyClient), eq(policyDataSecrets.policyData, sha256)))
    .limit(1);
  return rows[0];
}
