import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

// What a local stack has stored, read from wrangler dev's own files (local D1 and Durable Object
// SQLite databases under the state folder), so a test can compare state before and after a request
// without going through, or creating, anything in the gateway.

/** The SQLite files of wrangler dev's local storage of one kind (`d1`, or `do` for Durable Objects) whose folder ends with `suffix`. */
function sqliteFiles(stateDir: string, kind: 'd1' | 'do', suffix: string): string[] {
  const root = join(stateDir, 'wrangler', 'v3', kind);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((dir) => dir.endsWith(suffix))
    .flatMap((dir) =>
      readdirSync(join(root, dir))
        .filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite')
        .map((f) => join(root, dir, f)),
    )
    .sort();
}

function query(file: string, sql: string, ...params: (string | number)[]): Record<string, unknown>[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(sql).all(...params) as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/** Rows of the gateway's local D1 database. */
export function d1Rows(stateDir: string, sql: string, ...params: (string | number)[]): Record<string, unknown>[] {
  const files = sqliteFiles(stateDir, 'd1', 'D1DatabaseObject');
  return files.flatMap((f) =>
    query(f, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'payments'").length ? query(f, sql, ...params) : [],
  );
}

/** Everything the payers' NonceLedger Durable Objects hold: one entry per instance that has storage, with its ledger rows. */
export function ledgerState(stateDir: string): { file: string; rows: Record<string, unknown>[] }[] {
  return sqliteFiles(stateDir, 'do', 'NonceLedger').map((file) => {
    const hasLedger = query(file, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'ledger'").length > 0;
    return { file, rows: hasLedger ? query(file, 'SELECT * FROM ledger ORDER BY nonce_key') : [] };
  });
}

/**
 * What is stored about `payers`' payments (D1 rows and ledger rows), and which payer ledgers exist at
 * all (Durable Object instances with storage), as one comparable snapshot.
 */
export function paymentState(
  stateDir: string,
  payers: string[],
): { d1: Record<string, unknown>[]; ledgers: string[]; ledgerRows: Record<string, unknown>[] } {
  const wanted = new Set(payers.map((p) => p.toLowerCase()));
  const mine = (payer: unknown) => typeof payer === 'string' && wanted.has(payer.toLowerCase());
  const ledgers = ledgerState(stateDir);
  return {
    d1: d1Rows(stateDir, 'SELECT * FROM payments ORDER BY id').filter((r) => mine(r['payer'])),
    ledgers: ledgers.map((l) => l.file),
    ledgerRows: ledgers.flatMap((l) => l.rows).filter((r) => mine((JSON.parse(String(r['reservation'])) as { payer: string }).payer)),
  };
}

/** The state folder of a stack launched by the tests (the shared stack's file records it too). */
export function stateDirOf(stack: object): string {
  const dir = (stack as { stateDir?: unknown }).stateDir;
  if (typeof dir !== 'string') throw new Error('this stack file does not say where its state is');
  return dir;
}
