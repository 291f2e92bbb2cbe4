import { setTimeout as sleep } from 'node:timers/promises';

/** How long `pollUntil` keeps asking, and how often. */
export interface PollOptions {
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Wait between two asks (ms); default 100. */
  intervalMs?: number;
}

/** `pollUntil` ran out of time; the message says what it waited for and what it saw last. */
export class PollTimeoutError extends Error {
  constructor(
    what: string,
    readonly lastSeen: unknown,
    timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}; last saw: ${describe(lastSeen)}`);
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    return text === undefined ? String(value) : text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
  } catch {
    return String(value);
  }
}

/**
 * Asks `read` until `done(value)` holds and returns that value, or throws PollTimeoutError naming
 * `what` and the last value (or error) seen once `timeoutMs` has passed. The one bounded wait of the
 * tests and the reliability suite: no hand-written loop, no wait that returns quietly on timeout.
 * An error thrown by `read` counts as "not yet" (the thing may still be starting) and is reported if
 * it is the last thing seen.
 */
export async function pollUntil<T>(what: string, read: () => Promise<T> | T, done: (value: T) => boolean, opts: PollOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown = 'nothing yet';
  for (;;) {
    try {
      const value = await read();
      if (done(value)) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new PollTimeoutError(what, last, opts.timeoutMs);
    await sleep(Math.min(opts.intervalMs ?? 100, Math.max(0, deadline - Date.now())));
  }
}

/** Waits for a child process to exit (bounded): resolves with its exit code or signal, throws on timeout. */
export async function waitForExit(
  child: { exitCode: number | null; signalCode: NodeJS.Signals | null; once(event: 'exit', fn: () => void): unknown },
  what: string,
  timeoutMs: number,
): Promise<number | NodeJS.Signals> {
  const status = () => child.exitCode ?? child.signalCode;
  if (status() !== null) return status()!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = sleep(timeoutMs, 'timeout' as const);
  if ((await Promise.race([exited, timer])) === 'timeout') throw new PollTimeoutError(`${what} to exit`, 'still running', timeoutMs);
  return status()!;
}

/** Waits (bounded) until no process has pid `pid` any more: for a process this one did not spawn, as a SIGKILLed backend. */
export function waitForPidGone(pid: number, what: string, timeoutMs: number): Promise<boolean> {
  return pollUntil(
    `${what} (pid ${pid}) to be gone`,
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    (gone) => gone,
    { timeoutMs, intervalMs: 50 },
  );
}
