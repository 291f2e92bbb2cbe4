import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { SuiteContext } from './suite-context';

// Row counts of everything the gateway stores, read from workerd's own files (local D1 and each
// Durable Object's SQLite database) and from R2 through miniflare: a snapshot to compare before and
// after requests that must change nothing.

/**
 * Tables left out, each for a reason: metrics (refusals may be counted, as issue 16 allows: the
 * BackendPool's per-isolate call sums), the runtime's own bookkeeping, and D1's migration list.
 */
const IGNORED = /^(sqlite_|_cf_|__miniflare|d1_migrations$|call_metrics$)/;

function tableCounts(file: string): Record<string, number> {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
    return Object.fromEntries(
      tables
        .filter((t) => !IGNORED.test(t.name))
        .map((t) => [t.name, (db.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`).get() as { n: number }).n]),
    );
  } finally {
    db.close();
  }
}

/** `kind/object-folder/table` → rows, plus `kind/object-folder` → instances with storage, plus R2 object counts. */
export async function storedCounts(ctx: SuiteContext): Promise<Record<string, number>> {
  const root = join(ctx.stack.stateDir, 'wrangler', 'v3');
  const counts: Record<string, number> = {};
  for (const kind of ['d1', 'do']) {
    const dir = join(root, kind);
    if (!existsSync(dir)) continue;
    for (const folder of readdirSync(dir)) {
      const files = readdirSync(join(dir, folder)).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
      if (kind === 'do') counts[`do/${folder}/instances`] = files.length;
      for (const f of files) {
        for (const [table, n] of Object.entries(tableCounts(join(dir, folder, f)))) {
          const key = `${kind}/${folder}/${table}`;
          counts[key] = (counts[key] ?? 0) + n;
        }
      }
    }
  }
  counts['r2/MODELS/objects'] = (await ctx.rs.gateway.r2Keys('MODELS')).length;
  return counts;
}

/** What differs between two snapshots, as "key: before → after". */
export function countChanges(before: Record<string, number>, after: Record<string, number>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => (before[k] ?? 0) !== (after[k] ?? 0)).map((k) => `${k}: ${before[k] ?? 0} → ${after[k] ?? 0}`);
}
