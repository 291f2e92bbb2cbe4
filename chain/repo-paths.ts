import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root, derived from this file's location so the CWD never matters. */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of the git-ignored folder for caches, logs and local state. */
export const proofgateDir: string = resolve(repoRoot, '.proofgate');

/** Absolute path of the folder holding the Solidity sources. */
export const contractsDir: string = resolve(repoRoot, 'contracts');
