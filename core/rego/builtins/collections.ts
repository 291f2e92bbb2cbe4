/** Arrays, sets, objects, json.filter/remove/patch, walk and graph builtins. */
import { typeError } from '../errors';
import { RObject, RSet, equal, typeName } from '../value';
import type { Value } from '../value';
import { arr, badType, int, obj, set } from './args';
import { def } from './types';
import type { BuiltinDef } from './types';

/** Deep merge: values from `b` win, nested objects merge (object.union). */
function union(a: RObject, b: RObject): RObject {
  const out = a.copy();
  for (const [k, v] of b.rawEntries()) {
    const cur = out.get(k);
    out.set(k, cur instanceof RObject && v instanceof RObject ? union(cur, v) : v);
  }
  return out;
}

/** Keys named by an object's keys, a set or an array operand. */
function keysOperand(name: string, args: Value[], i: number): Value[] {
  const v = args[i]!;
  if (v instanceof RObject) return v.keys();
  if (v instanceof RSet) return v.values();
  if (Array.isArray(v)) return v;
  return badType(name, i, 'one of {object, set, array}', v);
}

function isSubset(sup: Value, sub: Value): boolean {
  if (sup instanceof RObject && sub instanceof RObject) {
    for (const [k, v] of sub.rawEntries()) {
      const sv = sup.get(k);
      if (sv === undefined || !isSubset(sv, v)) return false;
    }
    return true;
  }
  if (sup instanceof RSet && sub instanceof RSet) return sub.values().every((v) => sup.has(v));
  if (sup instanceof RSet && Array.isArray(sub)) return sub.every((v) => sup.has(v));
  if (Array.isArray(sup) && sub instanceof RSet) return sub.values().every((v) => sup.some((x) => equal(x, v)));
  if (Array.isArray(sup) && Array.isArray(sub)) {
    if (sub.length === 0) return true;
    for (let i = 0; i + sub.length <= sup.length; i++) {
      if (sub.every((v, j) => equal(sup[i + j]!, v))) return true;
    }
    return false;
  }
  return equal(sup, sub);
}

/** A path tree built from json.filter / json.remove paths; `end` marks a complete path. */
type PathTree = { end: boolean; children: Map<string, { key: Value; tree: PathTree }> };

function pathTree(name: string, args: Value[], i: number): PathTree {
  const v = args[i]!;
  const items = Array.isArray(v) ? v : v instanceof RSet ? v.values() : badType(name, i, 'one of {set, array}', v);
  const root: PathTree = { end: false, children: new Map() };
  for (const p of items) {
    let segs: Value[];
    if (typeof p === 'string') segs = splitPath(p);
    else if (Array.isArray(p)) segs = p;
    else
      throw typeError(name, `operand ${i + 1} must be one of {set, array} containing string paths or array of path segments but got ${typeName(p)}`);
    let cur = root;
    for (const s of segs) {
      const key = typeof s === 'string' ? s : JSON.stringify(s);
      let next = cur.children.get(key);
      if (!next) {
        next = { key: s, tree: { end: false, children: new Map() } };
        cur.children.set(key, next);
      }
      cur = next.tree;
    }
    cur.end = true;
  }
  return root;
}

/** Splits a `a/b/c` path, unescaping JSON-pointer `~1` and `~0`. */
function splitPath(p: string): string[] {
  const s = p.replace(/^\/+/, '');
  if (s === '') return [];
  return s.split('/').map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function childFor(tree: PathTree, key: Value): PathTree | undefined {
  const k = typeof key === 'string' ? key : typeof key === 'number' ? String(key) : JSON.stringify(key);
  return tree.children.get(k)?.tree ?? (typeof key === 'number' ? tree.children.get(JSON.stringify(key))?.tree : undefined);
}

function filterValue(v: Value, tree: PathTree): Value | undefined {
  if (tree.end) return v;
  if (v instanceof RObject) {
    const out = new RObject();
    for (const [k, val] of v.entries()) {
      const c = childFor(tree, k);
      if (!c) continue;
      const fv = filterValue(val, c);
      if (fv !== undefined) out.set(k, fv);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((val, i) => {
      const c = childFor(tree, i);
      if (!c) return;
      const fv = filterValue(val, c);
      if (fv !== undefined) out.push(fv);
    });
    return out;
  }
  if (v instanceof RSet) {
    const out = new RSet();
    for (const val of v.values()) {
      const c = childFor(tree, val);
      if (!c) continue;
      const fv = filterValue(val, c);
      if (fv !== undefined) out.add(fv);
    }
    return out;
  }
  return undefined;
}

function removeValue(v: Value, tree: PathTree): Value | undefined {
  if (tree.end) return undefined;
  if (v instanceof RObject) {
    const out = new RObject();
    for (const [k, val] of v.entries()) {
      const c = childFor(tree, k);
      if (!c) {
        out.set(k, val);
        continue;
      }
      const rv = removeValue(val, c);
      if (rv !== undefined) out.set(k, rv);
    }
    return out;
  }
  if (Array.isArray(v)) {
    const out: Value[] = [];
    v.forEach((val, i) => {
      const c = childFor(tree, i);
      if (!c) {
        out.push(val);
        return;
      }
      const rv = removeValue(val, c);
      if (rv !== undefined) out.push(rv);
    });
    return out;
  }
  if (v instanceof RSet) {
    const out = new RSet();
    for (const val of v.values()) {
      const c = childFor(tree, val);
      if (!c) {
        out.add(val);
        continue;
      }
      const rv = removeValue(val, c);
      if (rv !== undefined) out.add(rv);
    }
    return out;
  }
  return v;
}

// ---- json.patch (RFC 6902 over Rego values) ----

function pointer(p: Value): Value[] | undefined {
  if (typeof p === 'string') {
    if (p === '') return [];
    return p
      .replace(/^\//, '')
      .split('/')
      .map((x) => x.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  if (Array.isArray(p)) return p;
  return undefined;
}

function getAt(v: Value, path: Value[]): Value | undefined {
  let cur: Value | undefined = v;
  for (const seg of path) {
    if (cur instanceof RObject) cur = cur.get(seg);
    else if (Array.isArray(cur)) {
      const i = arrayIndex(seg, cur.length, false);
      cur = i === undefined ? undefined : cur[i];
    } else if (cur instanceof RSet) cur = cur.has(seg) ? seg : undefined;
    else return undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

function arrayIndex(seg: Value, len: number, forAdd: boolean): number | undefined {
  if (forAdd && seg === '-') return len;
  const n = typeof seg === 'number' ? seg : typeof seg === 'string' && /^(0|[1-9]\d*)$/.test(seg) ? Number(seg) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > (forAdd ? len : len - 1)) return undefined;
  return n;
}

/** Applies `op` at `path`: 'add' inserts, 'remove' deletes, 'replace' overwrites. Undefined when invalid. */
function modify(v: Value, path: Value[], op: 'add' | 'remove' | 'replace', value: Value | undefined): Value | undefined {
  if (path.length === 0) return op === 'remove' ? undefined : value;
  const [seg, ...rest] = path as [Value, ...Value[]];
  if (v instanceof RObject) {
    if (rest.length === 0) {
      if (op !== 'add' && !v.has(seg)) return undefined;
      const out = v.copy();
      if (op === 'remove') out.delete(seg);
      else out.set(seg, value!);
      return out;
    }
    const child = v.get(seg);
    if (child === undefined) return undefined;
    const nc = modify(child, rest, op, value);
    if (nc === undefined) return undefined;
    const out = v.copy();
    out.set(seg, nc);
    return out;
  }
  if (Array.isArray(v)) {
    const i = arrayIndex(seg, v.length, op === 'add' && rest.length === 0);
    if (i === undefined) return undefined;
    if (rest.length === 0) {
      const out = v.slice();
      if (op === 'add') out.splice(i, 0, value!);
      else if (op === 'remove') out.splice(i, 1);
      else out[i] = value!;
      return out;
    }
    const nc = modify(v[i]!, rest, op, value);
    if (nc === undefined) return undefined;
    const out = v.slice();
    out[i] = nc;
    return out;
  }
  if (v instanceof RSet) {
    if (rest.length === 0) {
      const out = RSet.of(v.values());
      if (op === 'add') {
        if (value === undefined || !equal(value, seg)) return undefined;
        out.add(value);
        return out;
      }
      if (!v.has(seg)) return undefined;
      const vals = v.values().filter((x) => !equal(x, seg));
      if (op === 'replace') vals.push(value!);
      return RSet.of(vals);
    }
    if (!v.has(seg)) return undefined;
    const nc = modify(seg, rest, op, value);
    if (nc === undefined) return undefined;
    return RSet.of([...v.values().filter((x) => !equal(x, seg)), nc]);
  }
  return undefined;
}

function applyPatch(doc: Value, patch: Value): Value | undefined {
  if (!(patch instanceof RObject)) return undefined;
  const op = patch.get('op');
  const path = pointer(patch.get('path') ?? null);
  if (typeof op !== 'string' || !path) return undefined;
  switch (op) {
    case 'add':
    case 'replace': {
      const value = patch.get('value');
      if (value === undefined) return undefined;
      return modify(doc, path, op, value);
    }
    case 'remove':
      return modify(doc, path, 'remove', undefined);
    case 'move':
    case 'copy': {
      const from = pointer(patch.get('from') ?? null);
      if (!from) return undefined;
      const value = getAt(doc, from);
      if (value === undefined) return undefined;
      const base = op === 'move' ? modify(doc, from, 'remove', undefined) : doc;
      if (base === undefined) return undefined;
      return modify(base, path, 'add', value);
    }
    case 'test': {
      const value = patch.get('value');
      const cur = getAt(doc, path);
      return cur !== undefined && value !== undefined && equal(cur, value) ? doc : undefined;
    }
  }
  return undefined;
}

// ---- walk and graphs ----

function walk(v: Value, path: Value[], out: Value[]): void {
  out.push([path.slice(), v]);
  if (Array.isArray(v)) {
    v.forEach((c, i) => {
      walk(c, [...path, i], out);
    });
  } else if (v instanceof RObject) for (const [k, c] of v.entries()) walk(c, [...path, k], out);
  else if (v instanceof RSet) for (const c of v.values()) walk(c, [...path, c], out);
}

function neighbours(name: string, graph: RObject, node: Value): Value[] {
  const edges = graph.get(node);
  if (edges === undefined || edges === null) return [];
  if (Array.isArray(edges)) return edges;
  if (edges instanceof RSet) return edges.values();
  throw typeError(name, `operand 1 must be object[any: any<array[any], set[any]>] but got object`);
}

function initial(name: string, args: Value[]): Value[] {
  const v = args[1]!;
  if (Array.isArray(v)) return v;
  if (v instanceof RSet) return v.values();
  return badType(name, 1, 'one of {array, set}', v);
}

function reachable(args: Value[]): Value {
  const graph = obj('graph.reachable', args, 0);
  const seen = new RSet();
  const queue = initial('graph.reachable', args).slice();
  while (queue.length) {
    const n = queue.shift()!;
    if (seen.has(n) || !graph.has(n)) continue;
    seen.add(n);
    queue.push(...neighbours('graph.reachable', graph, n));
  }
  return seen;
}

function reachablePaths(args: Value[]): Value {
  const graph = obj('graph.reachable_paths', args, 0);
  const out = new RSet();
  const visit = (n: Value, path: Value[]) => {
    if (!graph.has(n)) {
      if (path.length) out.add(path);
      return;
    }
    const next = [...path, n];
    const ns = neighbours('graph.reachable_paths', graph, n).filter((x) => !next.some((p) => equal(p, x)));
    if (ns.length === 0) {
      out.add(next);
      return;
    }
    for (const x of ns) visit(x, next);
  };
  for (const n of initial('graph.reachable_paths', args)) visit(n, []);
  return out;
}

/** Registry entries of this family. */
export const collectionBuiltins: BuiltinDef[] = [
  def('array.concat', 2, (a) => [...arr('array.concat', a, 0), ...arr('array.concat', a, 1)]),
  def('array.slice', 3, (a) => {
    const xs = arr('array.slice', a, 0);
    let start = Number(int('array.slice', a, 1));
    let stop = Number(int('array.slice', a, 2));
    if (start < 0) start = 0;
    if (stop > xs.length) stop = xs.length;
    return start >= stop ? [] : xs.slice(start, stop);
  }),
  def('array.reverse', 1, (a) => arr('array.reverse', a, 0).slice().reverse()),
  def('array.flatten', 1, (a) => {
    const out: Value[] = [];
    for (const x of arr('array.flatten', a, 0)) Array.isArray(x) ? out.push(...x) : out.push(x);
    return out;
  }),
  def('and', 2, (a) => {
    const x = set('and', a, 0);
    const y = set('and', a, 1);
    return RSet.of(x.values().filter((v) => y.has(v)));
  }),
  def('or', 2, (a) => RSet.of([...set('or', a, 0).values(), ...set('or', a, 1).values()])),
  def('intersection', 1, (a) => {
    const sets = set('intersection', a, 0).values();
    if (sets.length === 0) return new RSet();
    const all = sets.map((s, i) => (s instanceof RSet ? s : badType('intersection', 0, 'set of sets', s ?? i)));
    return RSet.of(all[0]!.values().filter((v) => all.every((s) => s.has(v))));
  }),
  def('union', 1, (a) => {
    const out = new RSet();
    for (const s of set('union', a, 0).values()) {
      if (!(s instanceof RSet)) badType('union', 0, 'set of sets', s);
      for (const v of s.values()) out.add(v);
    }
    return out;
  }),
  def('object.get', 3, (a) => {
    const o = obj('object.get', a, 0);
    const key = a[1]!;
    if (Array.isArray(key)) {
      const v = getAt(o, key);
      return v === undefined ? a[2]! : v;
    }
    const v = o.get(key);
    return v === undefined ? a[2]! : v;
  }),
  def('object.remove', 2, (a) => {
    const o = obj('object.remove', a, 0);
    const out = o.copy();
    for (const k of keysOperand('object.remove', a, 1)) out.delete(k);
    return out;
  }),
  def('object.filter', 2, (a) => {
    const o = obj('object.filter', a, 0);
    const out = new RObject();
    for (const k of keysOperand('object.filter', a, 1)) {
      const v = o.get(k);
      if (v !== undefined) out.set(k, v);
    }
    return out;
  }),
  def('object.union', 2, (a) => union(obj('object.union', a, 0), obj('object.union', a, 1))),
  def('object.union_n', 1, (a) => {
    let out = new RObject();
    for (const o of arr('object.union_n', a, 0)) {
      if (!(o instanceof RObject)) badType('object.union_n', 0, 'array of objects', o);
      out = union(out, o);
    }
    return out;
  }),
  def('object.keys', 1, (a) => RSet.of(obj('object.keys', a, 0).keys())),
  def('object.subset', 2, (a) => {
    const [sup, sub] = a as [Value, Value];
    const ok = (v: Value) => v instanceof RObject || v instanceof RSet || Array.isArray(v);
    if (!ok(sup)) badType('object.subset', 0, 'one of {object, set, array}', sup);
    if (!ok(sub)) badType('object.subset', 1, 'one of {object, set, array}', sub);
    return isSubset(sup, sub);
  }),
  def('json.filter', 2, (a) => {
    const o = obj('json.filter', a, 0);
    return filterValue(o, pathTree('json.filter', a, 1)) ?? new RObject();
  }),
  def('json.remove', 2, (a) => {
    const o = obj('json.remove', a, 0);
    return removeValue(o, pathTree('json.remove', a, 1)) ?? new RObject();
  }),
  def('json.patch', 2, (a) => {
    let doc: Value | undefined = a[0]!;
    for (const p of arr('json.patch', a, 1)) {
      doc = applyPatch(doc, p);
      if (doc === undefined) return undefined;
    }
    return doc;
  }),
  def(
    'walk',
    1,
    (a) => {
      const out: Value[] = [];
      walk(a[0]!, [], out);
      return out;
    },
    true,
  ),
  def('graph.reachable', 2, reachable),
  def('graph.reachable_paths', 2, reachablePaths),
];
