import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

/** A child process the stack started, in its own process group so that its children stop with it. */
export interface StartedProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Starts processes in their own process groups and stops them all, children included, on `stopAll`
 * or when this process exits for any reason, so that Ctrl-C leaves no orphan behind.
 */
export class ProcessGroup {
  private readonly started: StartedProcess[] = [];
  private readonly onExit = (): void => this.killAllNow();

  constructor() {
    process.on('exit', this.onExit);
  }

  /** Spawns `command args`, sending its output to `logFile` (appended). */
  spawn(name: string, command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string }): StartedProcess {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(-1));
    });
    const started = { name, child, exited };
    this.started.push(started);
    return started;
  }

  /** Stops every process: SIGTERM to each group, then SIGKILL to what is still alive after `graceMs`. */
  async stopAll(graceMs = 5_000): Promise<void> {
    const alive = this.started.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of alive) signalGroup(p.child, 'SIGTERM');
    await Promise.race([Promise.all(alive.map((p) => p.exited)), new Promise((r) => setTimeout(r, graceMs))]);
    this.killAllNow();
    await Promise.all(alive.map((p) => p.exited));
    process.off('exit', this.onExit);
  }

  private killAllNow(): void {
    for (const p of this.started) signalGroup(p.child, 'SIGKILL');
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}
