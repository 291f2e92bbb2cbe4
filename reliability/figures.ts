import type { DoubleSpendFigures } from './double-spend';
import type { FaultFigures } from './faults';
import type { ForgeryFigures } from './forgery';
import type { LoadFigures } from './load';
import type { MalformedFigures } from './malformed';
import type { SecretsFigures } from './secrets';

/** `.proofgate/reliability.json`: every section's figures, what failed, and how long it took. */
export interface Figures {
  mode: 'quick' | 'full';
  startedAt: string;
  seconds?: number;
  doubleSpend?: DoubleSpendFigures;
  forgeries?: ForgeryFigures;
  malformed?: MalformedFigures;
  faults?: FaultFigures;
  load?: LoadFigures;
  secrets?: SecretsFigures;
  /** Sections that could not finish (their error). */
  errors?: string[];
  /** Must-figures that do not hold. */
  failures?: string[];
}

/** The promises' figures: each line that does not hold. */
export function checkFigures(f: Figures, ran: Set<string>): string[] {
  const fail: string[] = [...(f.errors ?? []).map((e) => `section error: ${e.split('\n')[0]}`)];
  const must = (section: string, ok: boolean, what: string) => {
    if (ran.has(section) && !ok) fail.push(`${section}: ${what}`);
  };
  const d = f.doubleSpend;
  if (d) {
    must('doubleSpend', d.maxServedPerAuthorization <= 1, `an authorization was served ${d.maxServedPerAuthorization} times`);
    must('doubleSpend', d.transfers === d.paidServed, `${d.transfers} transfers for ${d.paidServed} paid services`);
    must('doubleSpend', d.chargedCalls === d.transfers, `payers lost ${d.chargedCalls} calls' worth for ${d.transfers} transfers`);
    must(
      'doubleSpend',
      d.lostPaid === 0 && d.servedUnpaid === 0,
      `${d.lostPaid} charged without a result, ${d.servedUnpaid} served without a charge`,
    );
    must('doubleSpend', d.replayMismatches === 0, `${d.replayMismatches} replays answered with another call's result`);
    must(
      'doubleSpend',
      (d.paymentStates['reserved'] ?? 0) + (d.paymentStates['settling'] ?? 0) + (d.paymentStates['pending'] ?? 0) === 0,
      'payments left open',
    );
  }
  const g = f.forgeries;
  if (g) {
    must('forgeries', g.tried >= 1000, `only ${g.tried} forgeries tried (at least 1000)`);
    must('forgeries', g.accepted === 0, `${g.accepted} forgeries accepted: ${g.acceptedExamples.join('; ')}`);
  }
  const m = f.malformed;
  if (m) {
    must('malformed', m.requests >= 200, `only ${m.requests} malformed requests (at least 200)`);
    must('malformed', m.fiveHundreds === 0, `${m.fiveHundreds} answered 5xx: ${m.examples.fiveHundreds.join('; ')}`);
    must('malformed', m.codeless === 0, `${m.codeless} answered without an error code: ${m.examples.codeless.join('; ')}`);
    must('malformed', m.stateChanged === 0, `state changed: ${m.stateChanges.join('; ')}`);
    must('malformed', m.accepted === 0, `${m.accepted} malformed requests answered 2xx: ${m.examples.accepted.join('; ')}`);
  }
  const x = f.faults;
  if (x) {
    must('faults', x.lostPaid === 0, `${x.lostPaid} paid requests lost`);
    must('faults', x.doubleCharged === 0, `${x.doubleCharged} double charges`);
    for (const s of x.scenarios) must('faults', s.holds, `${s.name}: ${s.problems.join('; ')}`);
  }
  const l = f.load;
  if (l) {
    must('load', l.errors === 0, `${l.errors} load errors`);
    must('load', l.requests > 0, 'no load requests completed');
    for (const [proc, mem] of Object.entries(l.memoryMb))
      must('load', mem.levelsOff, `${proc} memory grows without levelling off (${JSON.stringify(mem)})`);
  }
  const s = f.secrets;
  if (s) {
    must('secrets', s.accessAccepted === 0, `${s.accessAccepted} restricted requests accepted: ${s.acceptedExamples.join('; ')}`);
    must('secrets', s.foreignRegistrationsAccepted === 0, 'a backend registered under another key');
    must('secrets', s.leaks.length === 0, `secrets in logs: ${s.leaks.join('; ')}`);
  }
  return fail;
}

/** Prints the figures as a table. */
export function printTable(f: Figures, out: (line: string) => void): void {
  const rows: [string, string, string][] = [];
  const add = (section: string, figure: string, value: unknown) =>
    rows.push([section, figure, typeof value === 'string' ? value : JSON.stringify(value)]);
  if (f.doubleSpend) {
    const d = f.doubleSpend;
    add('double spend', 'authorizations / requests', `${d.authorizations} / ${d.requests} (runtime restarts: ${d.runtimeRestarts})`);
    add('double spend', 'max services per authorization', d.maxServedPerAuthorization);
    add('double spend', 'paid services / on-chain transfers', `${d.paidServed} / ${d.transfers} (payers charged for ${d.chargedCalls})`);
    add('double spend', 'lost / served unpaid / by retry', `${d.lostPaid} / ${d.servedUnpaid} / ${d.obtainedByRetry}`);
    add('double spend', 'answers', d.answers);
  }
  if (f.forgeries) {
    const g = f.forgeries;
    add('forgery & replay', 'accepted / tried', `${g.accepted} / ${g.tried}`);
    add('forgery & replay', 'by kind (tried)', g.byKind);
  }
  if (f.malformed) {
    const m = f.malformed;
    add('malformed', 'requests / routes', `${m.requests} / ${m.routes}`);
    add('malformed', '5xx / codeless / 2xx / state changed', `${m.fiveHundreds} / ${m.codeless} / ${m.accepted} / ${m.stateChanged}`);
    add('malformed', 'closed without an answer', `${m.noAnswer} ${m.examples.noAnswer.join('; ')}`);
    add('malformed', 'by class', m.byClass);
  }
  if (f.faults) {
    const x = f.faults;
    add('faults', 'paid lost / double-charged', `${x.lostPaid} / ${x.doubleCharged}`);
    for (const s of x.scenarios) add('faults', s.name, `${s.holds ? 'holds' : 'FAILS'}: ${s.summary}`);
  }
  if (f.load) {
    const l = f.load;
    add('load', l.warmup.name, `${l.warmup.requests} req, errors ${l.warmup.errors} (not measured; memory is sampled after it)`);
    for (const r of l.runs) add('load', r.name, `${r.requests} req, ${r.throughput} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}`);
    for (const [p, m] of Object.entries(l.memoryMb))
      add('load', `memory ${p} (MB)`, `start ${m.start}, peak ${m.peak}, end ${m.end}${m.levelsOff ? '' : ' (GROWING)'}`);
  }
  if (f.secrets) {
    const s = f.secrets;
    add('secrets & access', 'restricted requests accepted / tried', `${s.accessAccepted} / ${s.accessTried}`);
    add('secrets & access', 'foreign backend registrations accepted', `${s.foreignRegistrationsAccepted} / ${s.foreignRegistrationsTried}`);
    add('secrets & access', 'secrets found in logs', `${s.leaks.length} (${s.secretsChecked} secrets, ${s.logFiles} logs, ${s.logBytes} bytes)`);
  }
  const w = [0, 1].map((i) => Math.max(...rows.map((r) => r[i]!.length), 8));
  out('');
  out(`Proofgate reliability figures (${f.mode} run, ${f.seconds ?? '?'} s)`);
  for (const [a, b, c] of rows) out(`${a.padEnd(w[0]!)}  ${b.padEnd(w[1]!)}  ${c}`);
}
