import { parseArgs } from 'node:util';
import { benchGatewayInference } from './gateway-inference.bench';

const HELP = `npm run bench [-- --iterations N]: Proofgate's benchmarks, each against a baseline measured in the same run.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '200' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  await benchGatewayInference(Number(values.iterations));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
