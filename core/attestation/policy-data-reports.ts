/**
 * Phase 1 reports as evidence: each operator BLS-signs the PolicyData outputs it reports for a task,
 * and phase 2 hands every signer node the signed reports rather than a value the gateway fixed, so
 * each node recomputes the consensus itself and a gateway cannot feed a policy data nobody reported.
 * Reports with the same outputs sign the same digest, so the gateway sends them as one group with
 * one aggregate signature: a node checks one pairing per distinct output, however many operators.
 */
import { encodeAbiParameters, hexToBytes, keccak256, stringToBytes, bytesToHex, type Hex } from 'viem';
import { canonicalJson } from '../canonical-json';
import { ProofgateError } from '../errors';
import { nobleBlsVerifier, type BlsVerifier } from './bls-verifier';
import { activeOperators, parseStake, registryTotalStake, type OperatorRegistry } from './operator-registry';
import { policyDataConsensus, type PolicyDataReport } from './policy-data-consensus';

/** Leads the digest of a PolicyData report, so it can never be mistaken for an attestation digest. */
export const POLICY_DATA_REPORT_TYPEHASH: Hex = keccak256(stringToBytes('Proofgate.PolicyDataReport.v1'));

/** One module's output on one operator, or the error it ended with. */
export type PolicyDataOutput = { ok: unknown } | { err: string };

/** An operator's phase 1 report with its BLS signature over policyDataReportDigest. */
export type SignedPolicyDataReport = { operatorId: string; outputs: Record<string, PolicyDataOutput>; signature: Hex };

/** Operators that reported the same outputs, with the aggregate of their signatures over them. */
export type PolicyDataReportGroup = { operatorIds: string[]; outputs: Record<string, PolicyDataOutput>; signature: Hex };

/** A set of PolicyData reports that a signer node must not evaluate on. */
export class PolicyDataReportError extends ProofgateError {
  constructor(message: string) {
    super('invalid_policy_data_reports', message, 422);
  }
}

/** keccak256(abi.encode(POLICY_DATA_REPORT_TYPEHASH, taskId, keccak256(canonical JSON of the outputs))). */
export function policyDataReportDigest(taskId: Hex, outputs: Record<string, PolicyDataOutput>): Hex {
  const outputsHash = keccak256(stringToBytes(canonicalJson(outputs)));
  return keccak256(
    encodeAbiParameters([{ type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }], [POLICY_DATA_REPORT_TYPEHASH, taskId, outputsHash]),
  );
}

/** Throws unless `report` comes from a member of the snapshot and carries its key's signature over its outputs for this task. */
export function checkPolicyDataReport(
  taskId: Hex,
  report: SignedPolicyDataReport,
  registry: OperatorRegistry,
  verifier: BlsVerifier = nobleBlsVerifier,
): void {
  checkPolicyDataReportGroups(
    taskId,
    [{ operatorIds: [report.operatorId], outputs: report.outputs, signature: report.signature }],
    registry,
    verifier,
  );
}

/** Groups checked reports by outputs and aggregates each group's signatures (what phase 2 sends). */
export function groupPolicyDataReports(
  taskId: Hex,
  reports: readonly SignedPolicyDataReport[],
  verifier: BlsVerifier = nobleBlsVerifier,
): PolicyDataReportGroup[] {
  const groups = new Map<Hex, { operatorIds: string[]; outputs: Record<string, PolicyDataOutput>; signatures: Uint8Array[] }>();
  for (const report of reports) {
    const digest = policyDataReportDigest(taskId, report.outputs);
    const group = groups.get(digest) ?? { operatorIds: [], outputs: report.outputs, signatures: [] };
    group.operatorIds.push(report.operatorId);
    group.signatures.push(hexToBytes(report.signature));
    groups.set(digest, group);
  }
  return [...groups.values()].map((g) => ({
    operatorIds: g.operatorIds,
    outputs: g.outputs,
    signature: bytesToHex(verifier.aggregateSignatures(g.signatures)),
  }));
}

/**
 * Throws unless every group names distinct members of the task's registry snapshot (no operator in
 * two groups) and carries their aggregate signature over its outputs for this task: a
 * same-message aggregate, sound for keys admitted with a proof of possession.
 */
export function checkPolicyDataReportGroups(
  taskId: Hex,
  groups: readonly PolicyDataReportGroup[],
  registry: OperatorRegistry,
  verifier: BlsVerifier = nobleBlsVerifier,
): void {
  const members = new Map(activeOperators(registry).map((o) => [o.id, o]));
  const seen = new Set<string>();
  for (const group of groups) {
    if (group.operatorIds.length === 0) throw new PolicyDataReportError('a report group names no operator');
    for (const id of group.operatorIds) {
      if (!members.has(id)) throw new PolicyDataReportError(`a report comes from ${id}, not a member of the task's registry snapshot`);
      if (seen.has(id)) throw new PolicyDataReportError(`two reports come from ${id}`);
      seen.add(id);
    }
    let valid: boolean;
    try {
      const keys = group.operatorIds.map((id) => members.get(id)!.blsPublicKey);
      valid = verifier.verifyAggregate(keys, hexToBytes(policyDataReportDigest(taskId, group.outputs)), hexToBytes(group.signature));
    } catch {
      valid = false;
    }
    if (!valid) throw new PolicyDataReportError(`the reports of ${group.operatorIds.join(', ')} are not all signed by their operators' keys`);
  }
}

/**
 * The consensus value of each named module among the reports (checked first), by the stake of the
 * task's registry snapshot: what every party computes the same way.
 */
export function consensusFromReports(
  modules: readonly { name: string }[],
  reports: readonly { operatorIds: readonly string[]; outputs: Record<string, PolicyDataOutput> }[],
  registry: OperatorRegistry,
  toleranceBps: number,
): Record<string, unknown> {
  const stakes = new Map(activeOperators(registry).map((o) => [o.id, parseStake(o.stake)!]));
  const total = registryTotalStake(registry);
  const consensus: Record<string, unknown> = {};
  for (const { name } of modules) {
    const moduleReports: PolicyDataReport[] = reports.flatMap((report) => {
      const output = report.outputs[name];
      return output
        ? report.operatorIds.flatMap((operatorId) => {
            const stake = stakes.get(operatorId);
            return stake === undefined ? [] : [{ operatorId, stake, output }];
          })
        : [];
    });
    consensus[name] = policyDataConsensus(name, moduleReports, total, toleranceBps);
  }
  return consensus;
}
