import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes, type Hex } from 'viem';
import { ProofgateError } from '../core/errors';
import {
  POLICY_DATA_SECRETS_PATH,
  SECRETS_REQUEST_HEADERS,
  deliveredSecretsBinding,
  openSecrets,
  secretsReplySchema,
  signSecretsRequest,
} from '../core/policy-data-secrets';
import { writeFileAtomically } from './policy-data-sandbox/atomic-file';
import {
  ComponentCache,
  PolicyDataError,
  policyDataBinaryKind,
  prestartPolicyDataWorkers,
  runPolicyData,
  type PolicyDataBinaryKind,
  type RunPolicyDataOptions,
} from './policy-data-sandbox';
import type { IntentTask, PolicyDataReply } from '../core/operator-protocol';
import { componentInput } from './newton-shapes';

/** The input every core PolicyData module of a task receives (as canonical JSON): the intent. */
export function policyDataInput(task: IntentTask): unknown {
  return task.intent;
}

/** How a node runs PolicyData, besides the limits and allowed hosts of each run. */
export interface PolicyDataNodeOptions {
  /** Where fetched binaries and transpiled components are kept (default: under the OS temp dir). */
  cacheDir?: string;
  /** This operator's id and node key, once registered: they authenticate its requests for a task's secrets. */
  credentials?: () => { operatorId: string; authKey: Hex } | null;
}

/**
 * Phase 1 on an operator: fetches each PolicyData binary of a task from the gateway by sha256
 * (checked, then kept on disk and in memory), runs it with bounded memory and time (a core
 * module on the intent, a `newton:provider` component on the task's wasm_args, with the task's
 * clock and seed and the policy client's secrets), and reports each output or the error it ended with.
 */
export class PolicyDataRunner {
  private readonly binaries = new Map<string, Promise<Uint8Array>>();
  private readonly components: ComponentCache;
  private readonly cacheDir: string;

  constructor(
    private readonly gatewayUrl: string,
    private readonly runOptions: RunPolicyDataOptions = {},
    private readonly node: PolicyDataNodeOptions = {},
  ) {
    this.cacheDir = node.cacheDir ?? join(tmpdir(), 'proofgate-policy-data');
    this.components = new ComponentCache(join(this.cacheDir, 'components'));
  }

  /** Starts the next runs' workers and loads jco's code generator now, so the first task is not slowed by them. */
  warm(): Promise<void> {
    prestartPolicyDataWorkers();
    return this.components.warm();
  }

  /** Runs every binary of the task (in parallel) and reports `{ok}` or `{err}` per PolicyData name. */
  async run(task: IntentTask): Promise<PolicyDataReply> {
    const entries = await Promise.all(
      task.policyData.map(async ({ name, sha256 }) => {
        try {
          const bytes = await this.binary(sha256);
          const component = kindOf(bytes) === 'component';
          const result = await runPolicyData(bytes, component ? componentInput(task) : policyDataInput(task), {
            ...this.runOptions,
            components: this.components,
            context: { nowUnixSeconds: task.createdAt, seed: hexToBytes(task.taskId) },
            secrets: () => this.secrets(task.taskId, sha256),
          });
          return [name, { ok: result.output }] as const;
        } catch (err) {
          const message = err instanceof PolicyDataError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
          return [name, { err: message.slice(0, 1024) }] as const;
        }
      }),
    );
    return { outputs: Object.fromEntries(entries) };
  }

  /**
   * What each PolicyData binary of the task is, by name: the shape of `data.wasm` depends on it
   * (newton-shapes.ts). Read from the binaries' own bytes (kept since phase 1), so every operator
   * finds the same. A binary this node never got and cannot fetch counts as a core module: the
   * consensus needs reports from more than half of the stake, whose nodes hold the binary, so the
   * nodes that lack it are too few to carry a quorum for a verdict on a misshapen data.wasm.
   */
  async kinds(task: IntentTask): Promise<Record<string, PolicyDataBinaryKind>> {
    const entries = await Promise.all(
      task.policyData.map(async ({ name, sha256 }) => [name, await this.binary(sha256).then(kindOf, () => 'core-module' as const)] as const),
    );
    return Object.fromEntries(entries);
  }

  /** The bytes of a PolicyData binary: from memory, from disk, or from the gateway (hash checked, then kept). */
  private binary(sha256: Hex): Promise<Uint8Array> {
    const id = sha256.toLowerCase();
    let entry = this.binaries.get(id);
    if (!entry) {
      entry = this.load(id);
      this.binaries.set(id, entry);
      entry.catch(() => this.binaries.delete(id));
    }
    return entry;
  }

  private async load(sha256: string): Promise<Uint8Array> {
    const file = join(this.cacheDir, 'binaries', `${sha256}.wasm`);
    const kept = await readFile(file).then(
      (b) => new Uint8Array(b),
      () => undefined,
    );
    if (kept && hashOf(kept) === sha256) return kept;
    const res = await fetch(`${this.gatewayUrl}/v1/policy-data/${sha256}`, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new ProofgateError('policy_data_unavailable', `fetching PolicyData ${sha256} failed: HTTP ${res.status}`, 502);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const actual = hashOf(bytes);
    if (actual !== sha256) throw new ProofgateError('policy_data_unavailable', `PolicyData ${sha256} arrived with sha256 ${actual}`, 502);
    await mkdir(join(this.cacheDir, 'binaries'), { recursive: true });
    await writeFileAtomically(file, bytes);
    return bytes;
  }

  /**
   * The policy client's secrets for this binary, asked of the gateway for this task and opened
   * with the node key; undefined when none are stored. Called only when a module reads a secret.
   */
  private async secrets(taskId: Hex, sha256: Hex): Promise<Record<string, string> | undefined> {
    const credentials = this.node.credentials?.();
    if (!credentials) throw new ProofgateError('secrets_unavailable', 'this node is not registered, so it cannot ask for secrets', 503);
    const request = {
      operatorId: credentials.operatorId,
      taskId: taskId.toLowerCase() as Hex,
      sha256: sha256.toLowerCase() as Hex,
      timestamp: Date.now(),
    };
    const res = await fetch(`${this.gatewayUrl}${POLICY_DATA_SECRETS_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [SECRETS_REQUEST_HEADERS.operator]: request.operatorId,
        [SECRETS_REQUEST_HEADERS.timestamp]: String(request.timestamp),
        [SECRETS_REQUEST_HEADERS.signature]: await signSecretsRequest(credentials.authKey, request),
      },
      body: JSON.stringify({ taskId: request.taskId, sha256: request.sha256 }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new ProofgateError('secrets_unavailable', `the gateway refused the secrets: HTTP ${res.status}`, 502);
    const reply = secretsReplySchema.parse(await res.json());
    if (reply.sealed === null) return undefined;
    return openSecrets(hexToBytes(credentials.authKey), 'delivery', deliveredSecretsBinding(request), reply.sealed);
  }
}

function kindOf(bytes: Uint8Array): PolicyDataBinaryKind {
  try {
    return policyDataBinaryKind(bytes);
  } catch {
    return 'core-module'; // the core-module validator reports what is wrong with it
  }
}

function hashOf(bytes: Uint8Array): string {
  return `0x${createHash('sha256').update(bytes).digest('hex')}`;
}
