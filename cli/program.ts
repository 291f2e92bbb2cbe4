/** The `proofgate` program: every command and its options (cli/proofgate.ts runs it). */
import { Command } from 'commander';
import { STACK_FILE } from '../local-stack/stack-file';
import { attestationsCommand } from './commands/attestations';
import { inferCommand } from './commands/infer';
import { intentsCommand } from './commands/intents';
import { modelsCommand } from './commands/models';
import { backendCommand, operatorCommand } from './commands/nodes';
import { policiesCommand } from './commands/policies';
import { receiptsCommand } from './commands/receipts';
import { stackCommand } from './commands/stack';

const EXAMPLES = `
Examples:
  proofgate stack status
  proofgate models publish model.onnx --name my-model --price 1000
  proofgate infer ppocr-det --input page.png --save call.json
  proofgate infer ppocr-det-metered --input page.png --max-price 100000   # pays what the run cost, at most the cap (x402 upto)
  proofgate receipts verify call.json && proofgate receipts reexec call.json
  proofgate intents submit --from 0x… --to 0x… --value 1000
`;

// What each command group's --help ends with (its commands show their own examples too).
const GROUP_EXAMPLES: Readonly<Record<string, string[]>> = {
  models: [
    'proofgate models publish model.onnx --name my-model --price 1000',
    'proofgate models publish ocr.onnx --name ocr-metered --metered --rate-per-ms 100 --base 500 --cap 100000',
    'proofgate models list',
  ],
  receipts: ['proofgate receipts get 0x3f…', 'proofgate receipts verify call.json', 'proofgate receipts reexec call.json'],
  policies: ['proofgate policies create policies/admission.rego --params policies/admission.params.json', 'proofgate policies test policies/'],
  intents: ['proofgate intents submit --from 0x… --to 0x… --value 1000 --policy 0x…'],
  tasks: ['proofgate tasks get 0x9a…'],
  attestations: ['proofgate attestations verify attestation.json', 'proofgate attestations consume task.json --key-file client.key'],
  backend: ['proofgate backend start --pid-file backend.pid -- --key-file backend.key --port 9000', 'proofgate backend drain --pid-file backend.pid'],
  operator: [
    'proofgate operator start -- --key-file op1.bls.key --id operator-1',
    'proofgate operator register --key-file op1.bls.key --url https://signer1.example.com',
    'proofgate operator stake operator-1 50 --owner-key-file registry-owner.key',
    'proofgate operator list',
  ],
  stack: ['proofgate stack status'],
};

/** Builds the command tree (commands load what they need only when they run, so --help is quick). */
export function proofgateProgram(): Command {
  const program = new Command('proofgate')
    .description('Verifiable pay-per-call AI inference and transaction authorization: the Proofgate command line')
    .option('--gateway <url>', 'gateway URL (default: PROOFGATE_GATEWAY, else the local stack)')
    .option('--stack-file <file>', 'the local stack file', process.env['PROOFGATE_STACK_FILE'] ?? STACK_FILE)
    .option('--admin-token <token>', 'admin token (default: PROOFGATE_ADMIN_TOKEN, else the local stack)')
    .option('--operator-token <token>', 'operator token (default: PROOFGATE_OPERATOR_TOKEN, else the local stack)')
    .option('--api-key <key>', 'API key for admission policies (default: PROOFGATE_API_KEY)')
    .option('--json', 'print JSON for machines')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText('after', EXAMPLES);

  modelsCommand(program);
  inferCommand(program);
  receiptsCommand(program);
  policiesCommand(program);
  intentsCommand(program);
  attestationsCommand(program);
  backendCommand(program);
  operatorCommand(program);
  stackCommand(program);

  // Every command reports usage mistakes through the same exit path as the root.
  for (const sub of program.commands) {
    sub.exitOverride();
    for (const leaf of sub.commands) leaf.exitOverride();
    const examples = GROUP_EXAMPLES[sub.name()];
    if (examples) sub.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n`);
  }
  return program;
}
