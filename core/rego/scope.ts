/** Lexical scopes of the compiler: variable names to frame slots, closures as child scopes. */

/** A lexical scope; every scope of a rule shares one frame, so slots are unique per rule. */
export class Scope {
  readonly vars = new Map<string, number>();
  /** Slots declared in this scope (including generated ones). */
  readonly slots = new Set<number>();
  readonly children: Scope[] = [];
  constructor(
    readonly parent: Scope | undefined,
    readonly frame: { n: number },
  ) {
    parent?.children.push(this);
  }
  /** The slot of a name visible here (this scope or an enclosing one). */
  lookup(name: string): number | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const v = s.vars.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }
  /** A new slot for a name in this scope; `_` gets a slot but no name, so each `_` is distinct. */
  declare(name: string): number {
    const slot = this.frame.n++;
    if (name !== '_') this.vars.set(name, slot);
    this.slots.add(slot);
    return slot;
  }
  /** A fresh slot with no source name (wildcards, rewritten function arguments). */
  fresh(): number {
    const slot = this.frame.n++;
    this.slots.add(slot);
    return slot;
  }
}

/** Every slot declared in a scope and its descendants (a closure's own variables). */
export function collectScopeSlots(s: Scope, out: Set<number>): void {
  for (const x of s.slots) out.add(x);
  for (const c of s.children) collectScopeSlots(c, out);
}
