/**
 * `jco componentize` for Newton PolicyData, offline: builds a JavaScript pack into a component of
 * the `newton:provider` world with Newton's flags, working around jco 1.35's CLI, which cannot read
 * the WIT file (newton-components.ts says why). The same function builds the repository's own packs.
 *
 *   node --import tsx policies/policy-data/componentize.ts policy.js --wit newton-provider.wit -o policy.wasm
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { NEWTON_DISABLED_FEATURES, componentizeOffline, type ComponentizeFeature } from './newton-components';

const HELP = `Usage: node --import tsx policies/policy-data/componentize.ts <policy.js> --wit <file.wit> -o <out.wasm> [options]

Builds a JavaScript PolicyData pack into a WebAssembly component, as \`jco componentize\` does.

Options:
  --wit FILE        the WIT file of the world (Newton's newton-provider.wit)   (required)
  -o, --out FILE    where to write the component                              (required)
  -n, --world NAME  the world in the WIT file (default newton-provider)
  --disable LIST    comma-separated features to leave out (default ${NEWTON_DISABLED_FEATURES.join(',')}, as Newton's packs)
  -h, --help        this help
`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    wit: { type: 'string' },
    out: { type: 'string', short: 'o' },
    world: { type: 'string', short: 'n', default: 'newton-provider' },
    disable: { type: 'string', default: NEWTON_DISABLED_FEATURES.join(',') },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || positionals.length !== 1 || !values.wit || !values.out) {
  process.stdout.write(HELP);
  process.exit(values.help ? 0 : 2);
}
const disable = values.disable!.split(',').filter(Boolean) as ComponentizeFeature[];
const component = await componentizeOffline(positionals[0]!, values.wit, disable, values.world);
await writeFile(values.out, component);
process.stdout.write(`${values.out}: ${component.length} bytes\n`);
