// Entry of every npm script: `node scripts/bootstrap.mjs <script.ts> [args…]`.
// 1. Runs `npm install` when node_modules is missing or older than package.json / package-lock.json,
//    so `npm start` and `npm test` work on a fresh clone.
// 2. Runs the TypeScript script on the project's Node 22 (the `node` devDependency), whatever Node
//    started npm: wrangler needs Node >= 22 and many machines still have 20.
// Plain JavaScript, because it runs on that older Node, before the project's dependencies exist.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const projectNode = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node.cmd' : 'node');
const marker = join(root, 'node_modules', '.package-lock.json');
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
const stale = !existsSync(projectNode) || mtime(marker) < Math.max(mtime(join(root, 'package.json')), mtime(join(root, 'package-lock.json')));

if (stale) {
  console.log('[proofgate] installing dependencies (npm install)…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[proofgate] npm install failed');
    process.exit(result.status ?? 1);
  }
}

const [script, ...args] = process.argv.slice(2);
if (!script) process.exit(0);
const child = spawn(projectNode, ['--import', 'tsx', join(root, script), ...args], { cwd: process.cwd(), stdio: 'inherit' });
// Ctrl-C reaches the child too (same process group); wait for it to finish its own shutdown.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
