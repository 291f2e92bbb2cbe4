import type { Command } from 'commander';
import { client, globals, stackFile } from '../cli-config';
import { fields, json, table } from '../print';
import { priceText } from './models';

/** `proofgate stack status`. */
export function stackCommand(program: Command): void {
  program
    .command('stack')
    .description('the local stack (`npm start`)')
    .command('status')
    .description("the gateway's health, backends, models and operators")
    .addHelpText('after', '\nExample:\n  proofgate stack status\n')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = globals(cmd);
      const c = await client(g);
      const [health, backends, models, operators] = await Promise.all([
        c.getHealth().catch((err: { code?: string }) => ({ ok: false, error: err.code ?? 'unreachable' })),
        c.listBackends(),
        c.listModels(),
        c.listOperators().catch(() => []),
      ]);
      const stack = stackFile(g);
      if (g.json) return json({ gateway: c.gateway, health, backends, models, operators, stackFile: stack ? g.stackFile : null });
      fields([
        ['gateway', `${c.gateway} (${health.ok ? 'healthy' : 'NOT healthy'})`],
        ['stack file', stack ? g.stackFile : '(none)'],
        ...(stack?.chain ? ([['chain', `${stack.chain.chainId} at ${stack.chain.rpc}; pgUSD ${stack.chain.token}`]] as [string, string][]) : []),
      ]);
      process.stdout.write('\nbackends\n');
      table(
        ['ADDRESS', 'HEALTHY', 'PROVIDER', 'IN FLIGHT', 'STATUS'],
        backends.map((b) => [b.address, b.healthy ? 'yes' : 'no', b.executionProvider, String(b.inFlight), b.status]),
      );
      process.stdout.write('\nmodels\n');
      table(
        ['NAME', 'VERSION', 'PRICE'],
        models.map((m) => [m.name, String(m.latestVersion), priceText(m)]),
      );
      if (operators.length) {
        process.stdout.write('\noperators (stakes from the OperatorRegistry on chain)\n');
        table(
          ['ID', 'STAKE', 'SIGNER NODE'],
          operators.map((o) => [o.id, o.stake, o.node ? 'registered' : '(none)']),
        );
      }
      if (!health.ok) process.exitCode = 1;
    });
}
