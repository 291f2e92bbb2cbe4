/**
 * The WASI 0.2 interfaces a PolicyData component may import (newton-world.ts), answered so that
 * every operator gets the same answers: the clock is the task's creation time and moves only by
 * the component's own calls, "randomness" is a stream derived from the task id, there is no
 * environment, argument, file or terminal, and stdout/stderr become the run's logs. The
 * preview2-shim that jco ships reaches the real clock, random and filesystem, so it cannot serve
 * here; these are the few methods jco's generated bindings call.
 */
import { createHash } from 'node:crypto';
import { ModuleTrapError } from './errors';

/** What the interfaces answer from. */
export interface DeterministicWasiOptions {
  /** Unix seconds of the wall clock at the start of the run (the task's creation time). */
  nowUnixSeconds: number;
  /** Bytes the random interfaces expand (the task id), so every operator draws the same values. */
  seed: Uint8Array;
  /** Receives each line written to stdout or stderr. */
  log: (line: string) => void;
}

/** Nanoseconds the monotonic clock advances on each read, so a loop waiting for time ends. */
const TICK_NS = 1_000n;

/** Import objects by interface name, versions stripped (as jco's transpiled code looks them up). */
export function deterministicWasi(opts: DeterministicWasiOptions): Record<string, Record<string, unknown>> {
  let monotonicNs = 0n;
  const clockNow = (): bigint => {
    monotonicNs += TICK_NS;
    return monotonicNs;
  };

  class Pollable {
    constructor(readonly deadlineNs: bigint = 0n) {}
    ready(): boolean {
      return monotonicNs >= this.deadlineNs;
    }
    /** Blocking is moving the virtual clock to the deadline: nothing real is waited for. */
    block(): void {
      if (monotonicNs < this.deadlineNs) monotonicNs = this.deadlineNs;
    }
  }

  class WasiIoError {
    constructor(private readonly message: string) {}
    toDebugString(): string {
      return this.message;
    }
  }

  class InputStream {
    read(): { tag: 'err'; val: { tag: 'closed' } } {
      return { tag: 'err', val: { tag: 'closed' } };
    }
    blockingRead(): { tag: 'err'; val: { tag: 'closed' } } {
      return this.read();
    }
    skip(): { tag: 'err'; val: { tag: 'closed' } } {
      return this.read();
    }
    blockingSkip(): { tag: 'err'; val: { tag: 'closed' } } {
      return this.read();
    }
    subscribe(): Pollable {
      return new Pollable();
    }
  }

  /** stdout or stderr: bytes are split into lines and logged; every write succeeds at once. */
  class OutputStream {
    private pending = '';
    private readonly decoder = new TextDecoder();
    checkWrite(): bigint {
      return 1n << 20n;
    }
    write(contents: Uint8Array): void {
      this.pending += this.decoder.decode(contents, { stream: true });
      const lines = this.pending.split('\n');
      this.pending = lines.pop() ?? '';
      for (const line of lines) opts.log(line);
    }
    blockingWriteAndFlush(contents: Uint8Array): void {
      this.write(contents);
      this.flush();
    }
    flush(): void {
      if (this.pending) opts.log(this.pending);
      this.pending = '';
    }
    blockingFlush(): void {
      this.flush();
    }
    writeZeroes(): void {}
    blockingWriteZeroesAndFlush(): void {}
    subscribe(): Pollable {
      return new Pollable();
    }
  }

  class Descriptor {}
  class DirectoryEntryStream {}
  class TerminalInput {}
  class TerminalOutput {}

  const stdin = new InputStream();
  const stdout = new OutputStream();
  const stderr = new OutputStream();
  const random = randomStream(opts.seed);

  return {
    'wasi:cli/environment': { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
    'wasi:cli/exit': {
      exit: () => {
        throw new ModuleTrapError('the component called exit before returning from run');
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:clocks/monotonic-clock': {
      now: clockNow,
      resolution: () => TICK_NS,
      subscribeInstant: (when: bigint) => new Pollable(when),
      subscribeDuration: (duration: bigint) => new Pollable(monotonicNs + duration),
    },
    'wasi:clocks/wall-clock': {
      now: () => {
        const ns = BigInt(opts.nowUnixSeconds) * 1_000_000_000n + clockNow();
        return { seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: Number(TICK_NS) }),
    },
    'wasi:filesystem/preopens': { getDirectories: () => [] },
    'wasi:filesystem/types': { Descriptor, DirectoryEntryStream, filesystemErrorCode: () => undefined },
    'wasi:io/error': { Error: WasiIoError },
    'wasi:io/poll': {
      Pollable,
      /** Advances the virtual clock to the earliest deadline and reports the pollables ready then. */
      poll: (pollables: Pollable[]): Uint32Array => {
        if (pollables.length === 0) return new Uint32Array();
        if (!pollables.some((p) => p.ready())) {
          let earliest = pollables[0]!.deadlineNs;
          for (const p of pollables) if (p.deadlineNs < earliest) earliest = p.deadlineNs;
          monotonicNs = earliest;
        }
        return Uint32Array.from(pollables.flatMap((p, i) => (p.ready() ? [i] : [])));
      },
    },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:random/random': { getRandomBytes: (len: bigint) => random.bytes(Number(len)), getRandomU64: () => random.u64() },
    'wasi:random/insecure': { getInsecureRandomBytes: (len: bigint) => random.bytes(Number(len)), getInsecureRandomU64: () => random.u64() },
    'wasi:random/insecure-seed': { insecureSeed: () => [random.u64(), random.u64()] },
  };
}

/** SHA-256 in counter mode over the seed: the same bytes on every operator, never secret. */
function randomStream(seed: Uint8Array): { bytes(len: number): Uint8Array; u64(): bigint } {
  let counter = 0;
  let buffer = new Uint8Array(0);
  const bytes = (len: number): Uint8Array => {
    if (len > 1 << 20) throw new ModuleTrapError(`the component asked for ${len} random bytes at once`);
    while (buffer.length < len) {
      const block = createHash('sha256').update(seed).update(String(counter++)).digest();
      const next = new Uint8Array(buffer.length + block.length);
      next.set(buffer);
      next.set(block, buffer.length);
      buffer = next;
    }
    const out = buffer.slice(0, len);
    buffer = buffer.slice(len);
    return out;
  };
  return {
    bytes,
    u64: () => new DataView(bytes(8).buffer).getBigUint64(0, true),
  };
}
