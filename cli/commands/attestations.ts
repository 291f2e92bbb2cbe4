import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Hex } from 'viem';
import { UsageError, accountOf, client, globals, stackFile } from '../cli-config';
import { fields, json } from '../print';

/** `proofgate attestations verify|consume`. */
export function attestationsCommand(program: Command): void {
  const attestations = program.command('attestations').description('check policy attestations, offline or at the gateway');

  attestations
    .command('verify <attestation>')
    .description(
      "verify an attestation (a JSON file, or a task id): offline against the registry snapshot read from chain and its policy's quorum, else at the gateway",
    )
    .option('--chain-rpc <url>', "JSON-RPC of the registry's chain (default: the local stack chain); without one the gateway checks")
    .option('--gateway-check', 'ask the gateway instead (it also knows whether the attestation was consumed)')
    .option('--policy <policyId>', 'the policy the attestation must be for')
    .option('--chain-id <id>', 'the chain the intent must be for')
    .addHelpText(
      'after',
      '\nExamples:\n  proofgate attestations verify attestation.json\n  proofgate attestations verify 0x9a…   # the attestation of a task\n',
    )
    .action(async (ref: string, opts: { chainRpc?: string; gatewayCheck?: boolean; policy?: string; chainId?: string }, cmd: Command) => {
      const g = globals(cmd);
      const c = await client(g);
      const attestation = /^0x[0-9a-fA-F]{64}$/.test(ref) ? (await c.getTask(ref as Hex)).attestation : loadAttestation(ref);
      const rpc = opts.gatewayCheck ? undefined : (opts.chainRpc ?? stackFile(g)?.chain?.rpc);
      const { verifyAttestation } = await import('../../sdk/src/index');
      const verdict = await verifyAttestation(attestation, {
        gateway: c.gateway,
        ...(rpc ? { chain: rpc } : {}),
        ...(opts.policy ? { expectedPolicyId: opts.policy as Hex } : {}),
        ...(opts.chainId ? { expectedChainId: Number(opts.chainId) } : {}),
      });
      const a = (attestation ?? {}) as { registry?: string; registryBlock?: number; thresholdBps?: number };
      if (g.json) json(verdict);
      else
        fields([
          ['verdict', verdict.valid ? 'valid' : 'INVALID'],
          ['checked by', verdict.checkedBy],
          ...(a.registry
            ? ([['judged by', `registry ${a.registry} at block ${a.registryBlock}, the policy's quorum (${a.thresholdBps} bps of stake)`]] as [
                string,
                string,
              ][])
            : []),
          ...(verdict.valid ? [] : ([['reasons', verdict.reasons.join(', ')]] as [string, string][])),
        ]);
      if (!verdict.valid) process.exitCode = 1;
    });

  attestations
    .command('consume <attestation>')
    .description(
      "use an attestation once at the gateway, as its policy client: the client's key signs the EIP-712 consent (a second time is refused)",
    )
    .option('--key-file <file>', "the policy client's private key (default: PROOFGATE_POLICY_CLIENT_KEY)")
    .option('--policy <policyId>', 'the policy the attestation must be for')
    .addHelpText(
      'after',
      '\nExamples:\n  proofgate attestations consume task.json --key-file client.key\n  proofgate attestations consume 0x9a… --key-file client.key   # the attestation of a task\n',
    )
    .action(async (ref: string, opts: { keyFile?: string; policy?: string }, cmd: Command) => {
      const g = globals(cmd);
      const account = await accountOf(opts.keyFile, 'PROOFGATE_POLICY_CLIENT_KEY');
      if (!account) throw new UsageError("consuming needs the policy client's key: --key-file, or PROOFGATE_POLICY_CLIENT_KEY");
      const c = await client(g);
      const attestation = /^0x[0-9a-fA-F]{64}$/.test(ref) ? (await c.getTask(ref as Hex)).attestation : loadAttestation(ref);
      if (!attestation) throw new UsageError(`task ${ref} has no attestation (yet)`);
      const consumed = await c.consumeAttestation(attestation, { account, ...(opts.policy ? { policyId: opts.policy as Hex } : {}) });
      if (g.json) json(consumed);
      else
        fields([
          ['consumed', consumed.digest],
          ['at', consumed.consumedAt],
          ['by', `${account.address} (policy client)`],
        ]);
    });
}

function loadAttestation(file: string): unknown {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  return doc['attestation'] ?? doc;
}
