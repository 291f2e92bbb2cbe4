import { ProofgateError } from '../../core/errors';
import { compilePolicy, evaluateValue, RegoError, toJS, toJSON, toValue, type CompiledPolicy, type Value } from '../../core/rego';
import type { StoredPolicy } from './policy-store';

/** What an admission policy sees as `input`. */
export interface AdmissionInput {
  /** Payer address when paid, else the API key id, else null. */
  caller: string | null;
  model: string;
  version: number;
  price: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Request time, RFC 3339; `time.now_ns()` returns the same instant. */
  time: string;
}

/** The policy said no. */
export class PolicyDeniedError extends ProofgateError {
  constructor(policyId: string, reasons: string[]) {
    super('policy_denied', reasons.length ? `denied by policy: ${reasons.join('; ')}` : 'denied by policy', 403, { policyId, reasons });
  }
}

/** The policy failed to evaluate (conflict, strict error, budget): the request is refused, never admitted. */
export class PolicyEvaluationError extends ProofgateError {
  constructor(policyId: string, err: RegoError) {
    super('policy_error', `policy evaluation failed: ${err.fullText()}`, 403, { policyId });
  }
}

/** Headers a policy may look at; others never reach it. */
export const ADMISSION_HEADERS = ['content-type', 'user-agent', 'origin', 'cf-connecting-ip', 'cf-ipcountry'] as const;

/** A compiled policy with its data, ready to evaluate many times. */
export interface CompiledAdmission {
  id: string;
  compiled: CompiledPolicy;
  entrypoint: string;
  data: Value;
}

/**
 * Compiled policies of this isolate, by id. Ids are content hashes, so an entry never goes stale;
 * the oldest entries are dropped beyond `capacity`.
 */
export class CompiledPolicyCache {
  private readonly entries = new Map<string, CompiledAdmission>();

  constructor(private readonly capacity = 256) {}

  /** The compiled policy with this id if this isolate has it (ids are content hashes: it cannot be stale). */
  byId(id: string): CompiledAdmission | undefined {
    return this.entries.get(id.toLowerCase());
  }

  /** The compiled form of `policy`, compiling it on first use. */
  get(policy: StoredPolicy): CompiledAdmission {
    let entry = this.entries.get(policy.id);
    if (!entry) {
      entry = { id: policy.id, compiled: compilePolicy(policy.modules), entrypoint: policy.entrypoint, data: toValue({ params: policy.params }) };
      this.entries.set(policy.id, entry);
      if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
    return entry;
  }
}

/** This isolate's compiled policies (shared by admission and dry runs). */
export const compiledPolicies = new CompiledPolicyCache();

/**
 * Evaluates `<entrypoint>.allow` (must be true) and `<entrypoint>.deny` (reasons) with the request as
 * input and the policy's params as `data.params`. Throws PolicyDeniedError or PolicyEvaluationError.
 */
export function checkAdmission(policy: CompiledAdmission, input: AdmissionInput, nowMs: number): void {
  const opts = { input, data: policy.data, context: { nowNs: BigInt(nowMs) * 1_000_000n } };
  let allow: Value | undefined;
  let deny: Value | undefined;
  try {
    allow = evaluateValue(policy.compiled, `${policy.entrypoint}.allow`, opts);
    deny = evaluateValue(policy.compiled, `${policy.entrypoint}.deny`, opts);
  } catch (err) {
    if (err instanceof RegoError) throw new PolicyEvaluationError(policy.id, err);
    throw err;
  }
  const reasons = deny === undefined ? [] : reasonsOf(toJS(deny));
  if (allow === undefined || toJS(allow) !== true || reasons.length > 0) throw new PolicyDeniedError(policy.id, reasons);
}

/**
 * Evaluates any rule of a policy on `input` (with `data.params`, and `time.now_ns()` = `nowMs`) and
 * returns its JSON value (big integers as decimal strings), or undefined when the rule is undefined.
 */
export function evaluateRule(policy: CompiledAdmission, rule: string, input: unknown, nowMs: number): unknown {
  try {
    const v = evaluateValue(policy.compiled, rule, { input, data: policy.data, context: { nowNs: BigInt(nowMs) * 1_000_000n } });
    return v === undefined ? undefined : JSON.parse(JSON.stringify(toJSON(v), (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
  } catch (err) {
    if (err instanceof RegoError) throw new PolicyEvaluationError(policy.id, err);
    throw err;
  }
}

function reasonsOf(deny: unknown): string[] {
  const items = deny instanceof Set ? [...deny] : Array.isArray(deny) ? deny : [deny];
  return items.map((r) => (typeof r === 'string' ? r : JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))).sort();
}

/** Picks the admission headers out of a request. */
export function admissionHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ADMISSION_HEADERS) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}
