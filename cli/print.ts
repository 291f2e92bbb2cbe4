/** How the CLI prints: human-readable by default, JSON with --json; errors with the server's code. */
import type { InferResult, PaymentOutcome, TypedTensor } from '../sdk/src/index';
import { UsageError } from './cli-config';

/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Writes a value as indented JSON (bigints as strings). */
export function json(value: unknown): void {
  out(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2));
}

/** Aligned `key  value` lines. */
export function fields(rows: [string, string][]): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out(`${k.padEnd(width)}  ${v}`);
}

/** A table with a header row. */
export function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out(line(header));
  for (const r of rows) out(line(r));
}

/** A tensor in one line: type, dims and its first values. */
export function tensorLine(t: TypedTensor, max = 8): string {
  const values = Array.from(t.data as ArrayLike<number | bigint>).slice(0, max);
  const shown = values.map((v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v)).join(', ');
  return `${t.type}[${t.dims.join(', ')}]  ${shown}${t.data.length > max ? `, … (${t.data.length} values)` : ''}`;
}

/** An inference result, for people. */
export function printInference(r: InferResult): void {
  fields([
    ['model', `${r.model.name} v${r.model.version} (${r.model.sha256})`],
    ['transport', r.transport],
    [
      'verified',
      r.verification
        ? r.verification.valid
          ? `yes: signed by registered backend ${r.verification.signer}`
          : `NO: ${r.verification.reasons.join(', ')}`
        : 'not checked',
    ],
    ...(r.payment ? ([['payment', paymentText(r.payment)]] as [string, string][]) : []),
  ]);
  out('outputs');
  const width = Math.max(...Object.keys(r.outputs).map((n) => n.length));
  for (const [name, t] of Object.entries(r.outputs)) out(`  ${name.padEnd(width)}  ${tensorLine(t)}`);
  out('receipt');
  json(r.receipt);
}

/** What a call paid, for people: the charge (of the most authorized, for upto), the token, the state and transaction. */
export function paymentText(p: PaymentOutcome): string {
  const charged = p.charged ?? null;
  const amount =
    p.scheme === 'upto' ? `${charged ?? '?'} of at most ${p.amount} units (upto)` : `${charged ?? p.amount} units (${p.scheme ?? 'exact'})`;
  const tx = p.transaction ? ` (tx ${p.transaction})` : '';
  const again = p.replayed ? '; the answer was fetched again after it was lost, paid once' : '';
  return `${amount} of ${p.asset} on ${p.network}: ${p.state ?? 'paid'}${tx}${again}`;
}

/** An inference result as JSON: lossless outputs, receipt, payment. */
export async function inferenceJson(r: InferResult, inputs?: unknown) {
  const { tensorMapToJson, toTensors } = await import('../sdk/src/index');
  return {
    model: r.model,
    ...(inputs !== undefined ? { inputs } : {}),
    outputs: tensorMapToJson(toTensors(r.outputs)),
    receipt: r.receipt,
    ...(r.payment ? { payment: r.payment } : {}),
    verification: r.verification,
  };
}

/** Prints an error (the server's code and message when it has them) and exits non-zero. */
export function fail(err: unknown): never {
  if (err instanceof UsageError) {
    process.stderr.write(`proofgate: ${err.message}\n(see --help)\n`);
    process.exit(2);
  }
  // A ProofgateError (the SDK's and the gateway's): its stable code, status and message.
  const e = err as { code?: unknown; status?: unknown; message?: string; details?: Record<string, unknown> };
  if (typeof e?.code === 'string' && typeof e.status === 'number') {
    const reasons = e.details?.['reasons'];
    const extra = Array.isArray(reasons) ? ` (${reasons.join(', ')})` : '';
    const hint = e.code === 'price_above_max' && e.details?.['maxPrice'] === null ? ' (pass --max-price)' : '';
    process.stderr.write(`error ${e.code} (HTTP ${e.status}): ${e.message}${extra}${hint}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
