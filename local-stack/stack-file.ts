import { readFile } from 'node:fs/promises';

/**
 * `.proofgate/local-stack.json`: what `npm start` started, for tests and tools. Later issues add
 * fields; existing ones are never renamed.
 */
export interface LocalStackFile {
  gateway: string;
  adminToken: string;
  operatorToken: string;
  backends: { id: string; url: string; address: string; pid: number }[];
  models: { name: string; version: number; sha256: string }[];
}

/** Default location of the stack file, relative to the repository root. */
export const STACK_FILE = '.proofgate/local-stack.json';

/** Reads a stack file written by `npm start`. */
export async function readStackFile(path = STACK_FILE): Promise<LocalStackFile> {
  return JSON.parse(await readFile(path, 'utf8')) as LocalStackFile;
}
