// Runs `npm install` when node_modules is missing or older than package.json / package-lock.json, so
// that `npm start` and `npm test` work on a fresh clone. Plain JavaScript: it may run on a Node older
// than the one the project installs (node@22 from npm), before that one exists.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const marker = join(root, 'node_modules', '.package-lock.json');
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : 0);
const stale = !existsSync(join(root, 'node_modules', '.bin', 'node'))
  || mtime(marker) < Math.max(mtime(join(root, 'package.json')), mtime(join(root, 'package-lock.json')));

if (stale) {
  console.log('[proofgate] installing dependencies (npm install)…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('[proofgate] npm install failed');
    process.exit(result.status ?? 1);
  }
}
