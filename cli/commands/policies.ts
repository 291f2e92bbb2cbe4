import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Hex } from 'viem';
import { UsageError, client, globals } from '../cli-config';
import { fields, json } from '../print';

/** `proofgate policies create|get|eval|bind|test`. */
export function policiesCommand(program: Command): void {
  const policies = program.command('policies').description('Rego policies: admission for models, decisions for intents');

  policies
    .command('create <files...>')
    .description('store a policy made of .rego modules (admin); its id is its content hash')
    .option('--entrypoint <package>', 'the package whose allow/deny decide', 'data.proofgate.admission')
    .option('--params <file>', 'JSON document the policy reads as data.params')
    .option('--policy-data <name=sha256...>', 'PolicyData modules the policy reads as data.wasm.<name>')
    .option('--threshold-bps <n>', 'stake quorum for intents under this policy (basis points)')
    .option('--bind <model>', "bind it to a model's calls once created")
    .addHelpText(
      'after',
      '\nExample:\n  proofgate policies create policies/admission.rego --params policies/admission.params.json --bind ppocr-det\n',
    )
    .action(
      async (
        files: string[],
        opts: { entrypoint: string; params?: string; policyData?: string[]; thresholdBps?: string; bind?: string },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const c = await client(g);
        const modules = Object.fromEntries(files.map((f) => [basename(f), readFileSync(f, 'utf8')]));
        const policyData = (opts.policyData ?? []).map((spec) => {
          const [name, sha256] = spec.split('=');
          if (!name || !sha256) throw new UsageError('--policy-data takes NAME=0x<sha256>');
          return { name, sha256: sha256 as Hex };
        });
        const created = await c.createPolicy({
          modules,
          entrypoint: opts.entrypoint,
          ...(opts.params ? { params: JSON.parse(readFileSync(opts.params, 'utf8')) } : {}),
          ...(policyData.length ? { policyData } : {}),
          ...(opts.thresholdBps ? { thresholdBps: Number(opts.thresholdBps) } : {}),
        });
        if (opts.bind) await c.bindModelPolicy(opts.bind, created.id);
        if (g.json) return json({ ...created, ...(opts.bind ? { boundTo: opts.bind } : {}) });
        fields([
          ['policy', `${created.id}${created.created ? '' : ' (already stored)'}`],
          ['entrypoint', created.entrypoint],
          ['modules', Object.keys(created.modules).join(', ')],
          ...(opts.bind ? ([['bound to', opts.bind]] as [string, string][]) : []),
        ]);
      },
    );

  policies
    .command('get <policyId>')
    .description('a stored policy')
    .addHelpText('after', '\nExample:\n  proofgate policies get 0x5c…\n')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      json((await client(globals(cmd))).getPolicy(id as Hex));
    });

  policies
    .command('eval <policyId>')
    .description("evaluate a stored policy's rule in the gateway (admin dry run, as admission would)")
    .requiredOption('--input <file>', 'JSON input document')
    .option('--rule <path>', 'rule to evaluate (default: <entrypoint>.allow)')
    .option('--time <rfc3339>', 'evaluation time (default: now)')
    .addHelpText('after', '\nExample:\n  proofgate policies eval 0x5c… --input input.json --rule data.proofgate.admission.deny\n')
    .action(async (id: string, opts: { input: string; rule?: string; time?: string }, cmd: Command) => {
      const g = globals(cmd);
      const result = await (await client(g)).evaluatePolicy(id as Hex, {
        input: JSON.parse(readFileSync(opts.input, 'utf8')),
        ...(opts.rule ? { rule: opts.rule } : {}),
        ...(opts.time ? { time: opts.time } : {}),
      });
      if (g.json) return json(result);
      fields([
        ['rule', result.rule],
        ['value', result.defined ? JSON.stringify(result.value) : '(undefined)'],
      ]);
    });

  policies
    .command('bind <model> <policyId>')
    .description("admit a model's calls with a policy (admin)")
    .addHelpText('after', '\nExample:\n  proofgate policies bind ppocr-det 0x5c…\n')
    .action(async (model: string, id: string, _opts: unknown, cmd: Command) => {
      json((await client(globals(cmd))).bindModelPolicy(model, id as Hex));
    });

  policies
    .command('test <paths...>')
    .description("run a policy's Rego tests locally (test_* rules), with the gateway's own engine")
    .option('-v, --verbose', 'print every test, not only failures')
    .addHelpText('after', '\nExample:\n  proofgate policies test policies/\n')
    .action((paths: string[], opts: { verbose?: boolean }) => {
      // The Rego CLI (cli/rego.ts, `npm run rego`) is the one test runner; this runs it.
      const rego = fileURLToPath(new URL('../rego.ts', import.meta.url));
      const result = spawnSync(process.execPath, ['--import', 'tsx', rego, 'test', ...(opts.verbose ? ['-v'] : []), ...paths], {
        stdio: 'inherit',
        cwd: process.cwd(),
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      if (result.status !== 0) process.exitCode = result.status ?? 1;
    });
}
