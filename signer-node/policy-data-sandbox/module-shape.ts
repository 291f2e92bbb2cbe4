/**
 * Reads the parts of a WebAssembly binary that the JS API does not expose but the validator needs:
 * import and export signatures and memory limits. Call only on bytes WebAssembly.validate accepted.
 */
import { InvalidModuleError } from './errors';

/** A value type as written in the text format (`i32`, `funcref`...). */
export type ValueType = string;

/** A function signature as declared in the module. */
export interface FunctionType {
  params: ValueType[];
  results: ValueType[];
}

/** Kinds of imports and exports. */
export type ExternalKind = 'function' | 'table' | 'memory' | 'global' | 'tag';

/** Limits of a memory, in pages. */
export interface MemoryLimits {
  min: number;
  max: number | undefined;
  shared: boolean;
  memory64: boolean;
}

/** One import; `type` is set for functions. */
export interface ModuleImport {
  module: string;
  name: string;
  kind: ExternalKind;
  type: FunctionType | undefined;
}

/** One export; `type` is set for functions. */
export interface ModuleExport {
  name: string;
  kind: ExternalKind;
  type: FunctionType | undefined;
}

/** What the validator checks about a module. */
export interface ModuleShape {
  imports: ModuleImport[];
  exports: ModuleExport[];
  /** Memories defined by the module (imported memories are listed in `imports` only). */
  memories: MemoryLimits[];
}

const KINDS: readonly ExternalKind[] = ['function', 'table', 'memory', 'global', 'tag'];
const VALUE_TYPES: Readonly<Record<number, ValueType>> = {
  127: 'i32',
  126: 'i64',
  125: 'f32',
  124: 'f64',
  123: 'v128',
  112: 'funcref',
  111: 'externref',
};

/** Parses the type, import, function, memory and export sections of a module binary. */
export function readModuleShape(bytes: Uint8Array): ModuleShape {
  const r = new Reader(bytes);
  r.skip(8); // magic and version, already checked by WebAssembly.validate
  const types: FunctionType[] = [];
  const functionTypes: number[] = []; // type index of every function, imported ones first
  const imports: ModuleImport[] = [];
  const memories: MemoryLimits[] = [];
  const rawExports: { name: string; kind: ExternalKind; index: number }[] = [];
  while (!r.done()) {
    const id = r.byte();
    const end = r.u32() + r.pos;
    switch (id) {
      case 1:
        for (let n = r.u32(); n > 0; n--) types.push(r.functionType());
        break;
      case 2:
        for (let n = r.u32(); n > 0; n--) {
          const module = r.name();
          const name = r.name();
          const kind = r.kind();
          if (kind !== 'function') {
            // Only functions may be imported, so the module is refused anyway: record this import
            // and skip the rest of the section rather than decode every other import form.
            imports.push({ module, name, kind, type: undefined });
            break;
          }
          const index = r.u32();
          functionTypes.push(index);
          imports.push({ module, name, kind, type: types[index] });
        }
        break;
      case 3:
        for (let n = r.u32(); n > 0; n--) functionTypes.push(r.u32());
        break;
      case 5:
        for (let n = r.u32(); n > 0; n--) memories.push(r.limits());
        break;
      case 7:
        for (let n = r.u32(); n > 0; n--) rawExports.push({ name: r.name(), kind: r.kind(), index: r.u32() });
        break;
    }
    r.pos = end;
  }
  const exports = rawExports.map(({ name, kind, index }) => {
    const typeIndex = kind === 'function' ? functionTypes[index] : undefined;
    return { name, kind, type: typeIndex === undefined ? undefined : types[typeIndex] };
  });
  return { imports, exports, memories };
}

/** A bounds-checked cursor over the binary. */
class Reader {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  done(): boolean {
    return this.pos >= this.bytes.length;
  }

  skip(n: number): void {
    this.pos += n;
  }

  byte(): number {
    const b = this.bytes[this.pos++];
    if (b === undefined) throw new InvalidModuleError('truncated WebAssembly binary');
    return b;
  }

  /** Unsigned LEB128; arithmetic instead of bit operations so 64-bit limits do not wrap. */
  u32(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
  }

  name(): string {
    const len = this.u32();
    const text = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
    return text;
  }

  kind(): ExternalKind {
    const kind = KINDS[this.byte()];
    if (!kind) throw new InvalidModuleError('unknown external kind');
    return kind;
  }

  functionType(): FunctionType {
    // Only plain function types; GC proposal forms (rec, sub, struct, array) are out of the ABI.
    if (this.byte() !== 0x60) throw new InvalidModuleError('only plain function types are supported');
    const params = this.valueTypes();
    return { params, results: this.valueTypes() };
  }

  valueTypes(): ValueType[] {
    const out: ValueType[] = [];
    for (let n = this.u32(); n > 0; n--) {
      const code = this.byte();
      const type = VALUE_TYPES[code];
      if (!type) throw new InvalidModuleError(`unsupported value type 0x${code.toString(16)}`);
      out.push(type);
    }
    return out;
  }

  limits(): MemoryLimits {
    const flags = this.byte();
    const min = this.u32();
    const max = flags & 1 ? this.u32() : undefined;
    return { min, max, shared: (flags & 2) !== 0, memory64: (flags & 4) !== 0 };
  }
}
