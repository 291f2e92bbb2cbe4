#!/usr/bin/env node
// The `proofgate` command (the repository's package.json "bin"): runs cli/proofgate.ts on the
// project's Node 22 through scripts/bootstrap.mjs, like every npm script, so it works the same from
// `npx proofgate` on a machine whose own Node is 20. Plain JavaScript: it runs before anything else.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bootstrap = fileURLToPath(new URL('../scripts/bootstrap.mjs', import.meta.url));
const child = spawn(process.execPath, [bootstrap, 'cli/proofgate.ts', ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
