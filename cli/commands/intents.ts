import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Address, Hex } from 'viem';
import { UsageError, client, globals, stackFile } from '../cli-config';
import { fields, json } from '../print';
import type { TaskView } from '../../sdk/src/index';

/** `proofgate intents submit` and `proofgate tasks get`. */
export function intentsCommand(program: Command): void {
  const intents = program.command('intents').description('transactions decided by operators under a policy, answered with an attestation');

  intents
    .command('submit')
    .description('submit an intent under a policy and wait for the attestation')
    .option('--intent <file>', 'JSON intent {from, to, value, data, chainId} (or {intent, policyId})')
    .option('--from <address>')
    .option('--to <address>')
    .option('--value <wei>', 'value in wei', '0')
    .option('--data <hex>', 'calldata', '0x')
    .option('--chain-id <id>', 'chain id (default: the local stack chain)')
    .option('--policy <policyId>', 'the policy (default: the local stack demo policy)')
    .option('--policy-client <address>', 'the relying party that may consume the attestation (without one nobody may)')
    .option('--wait <seconds>', 'how long to wait for the attestation', '15')
    .addHelpText(
      'after',
      `
Examples:
  proofgate intents submit --from 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC --value 500000000000000000
  proofgate --json intents submit --intent intent.json --policy-client 0x90F79bf6EB2c4f870365E785982E1f101E93b906 > task.json

Without an API key (--api-key, PROOFGATE_API_KEY) the gateway limits intents per caller (429 rate_limited).
`,
    )
    .action(
      async (
        opts: {
          intent?: string;
          from?: string;
          to?: string;
          value: string;
          data: string;
          chainId?: string;
          policy?: string;
          policyClient?: string;
          wait: string;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const c = await client(g);
        const stack = stackFile(g);
        const doc = opts.intent ? (JSON.parse(readFileSync(opts.intent, 'utf8')) as Record<string, unknown>) : {};
        const fromFile = (doc['intent'] ?? (opts.intent ? doc : undefined)) as Record<string, unknown> | undefined;
        const chainId = Number(opts.chainId ?? fromFile?.['chainId'] ?? stack?.chain?.chainId ?? NaN);
        const intent = {
          from: (opts.from ?? fromFile?.['from']) as Address,
          to: (opts.to ?? fromFile?.['to']) as Address,
          value: String(fromFile?.['value'] ?? opts.value),
          data: (fromFile?.['data'] ?? opts.data) as Hex,
          chainId,
        };
        if (!intent.from || !intent.to || !Number.isSafeInteger(chainId))
          throw new UsageError('an intent needs --from, --to and --chain-id (or --intent FILE)');
        const policyId = (opts.policy ?? doc['policyId'] ?? stack?.demoPolicyId) as Hex | undefined;
        if (!policyId) throw new UsageError('--policy is required (no demo policy in the stack file)');
        const policyClient = (opts.policyClient ?? doc['policyClient']) as Address | undefined;
        if (policyClient !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(policyClient)) throw new UsageError('--policy-client is an address');
        const waitMs = Math.round(Number(opts.wait) * 1000);
        let task = await c.submitIntent(intent, { policyId, ...(policyClient ? { policyClient } : {}), waitMs: Math.min(waitMs, 30_000) });
        if (task.status !== 'completed' && task.status !== 'failed') task = await c.waitForTask(task.taskId, { timeoutMs: waitMs });
        printTask(task, g.json);
        if (task.status !== 'completed') process.exitCode = 1;
      },
    );

  program
    .command('tasks')
    .description('tasks: one intent under one policy')
    .command('get <taskId>')
    .description("a task's status, signers and attestation")
    .addHelpText('after', '\nExample:\n  proofgate tasks get 0x9a…\n')
    .action(async (taskId: string, _opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      printTask(await (await client(g)).getTask(taskId as Hex), g.json);
    });
}

function printTask(task: TaskView, asJson?: boolean): void {
  if (asJson) {
    json(task);
    return;
  }
  fields([
    ['task', task.taskId],
    ['status', task.status],
    ['policy', `${task.policyId} (quorum ${task.thresholdBps} bps of stake)`],
    ['policy client', /^0x0{40}$/.test(task.policyClient) ? '(none: nobody may consume the attestation)' : task.policyClient],
    ['registry', `${task.registry} at block ${task.registryBlock} (total stake ${task.totalStake})`],
    ['signers', task.signers.join(', ') || '(none)'],
    ...(task.attestation ? ([['verdict', task.attestation.allowed ? 'allowed' : 'denied']] as [string, string][]) : []),
    ...(task.failure ? ([['failure', `${task.failure.code}: ${task.failure.message}`]] as [string, string][]) : []),
  ]);
  if (task.attestation) {
    process.stdout.write('attestation\n');
    json(task.attestation);
  }
}
