/**
 * Bounds the memories a core module defines by rewriting their declared maximum. Components built
 * by componentize-js declare no maximum, and V8's worker heap limits do not cover WebAssembly
 * memory, so the cap is written into the binary: past it `memory.grow` fails inside the guest,
 * identically on every operator. No library rewrites memory limits in place, hence this file.
 */
import { InvalidModuleError, MemoryLimitError } from './errors';

const MEMORY_SECTION = 5;

/**
 * The module with every defined memory's maximum set to at most `maxPages` (64 KiB pages).
 * Throws MemoryLimitError for a memory that starts above the cap or is shared or 64-bit.
 */
export function capModuleMemory(bytes: Uint8Array, maxPages: number): Uint8Array {
  const chunks: Uint8Array[] = [bytes.subarray(0, 8)];
  let pos = 8;
  while (pos < bytes.length) {
    const sectionStart = pos;
    const id = bytes[pos++]!;
    const [size, start] = readU32(bytes, pos);
    const end = start + size;
    if (end > bytes.length) throw new InvalidModuleError('truncated WebAssembly section');
    if (id === MEMORY_SECTION) {
      const body = cappedMemorySection(bytes.subarray(start, end), maxPages);
      chunks.push(Uint8Array.from([id, ...u32(body.length), ...body]));
    } else {
      chunks.push(bytes.subarray(sectionStart, end));
    }
    pos = end;
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function cappedMemorySection(section: Uint8Array, maxPages: number): number[] {
  const out: number[] = [];
  let [count, pos] = readU32(section, 0);
  out.push(...u32(count));
  for (; count > 0; count--) {
    const flags = section[pos++];
    if (flags === undefined) throw new InvalidModuleError('truncated memory section');
    if (flags & 0b110) throw new MemoryLimitError('a component memory must be a 32-bit, non-shared memory');
    const [min, afterMin] = readU32(section, pos);
    pos = afterMin;
    let max = maxPages;
    if (flags & 1) {
      const [declared, afterMax] = readU32(section, pos);
      pos = afterMax;
      max = Math.min(declared, maxPages);
    }
    if (min > maxPages) throw new MemoryLimitError(`memory starts at ${min} pages, above the limit of ${maxPages} pages`);
    out.push(0x01, ...u32(min), ...u32(max));
  }
  return out;
}

function readU32(bytes: Uint8Array, start: number): [number, number] {
  let result = 0;
  let scale = 1;
  let pos = start;
  for (;;) {
    const b = bytes[pos++];
    if (b === undefined) throw new InvalidModuleError('truncated LEB128 number');
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [result, pos];
    scale *= 128;
  }
}

function u32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}
