/** What every explorer page shares: the gateway (this origin), small DOM helpers and the verdict element. */
import type { GatewayOptions } from '../../sdk/src/gateway';

/** The gateway that serves the explorer. */
export const gateway: GatewayOptions = { gateway: location.origin };

/** Creates an element with text content and attributes. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string | null,
  attrs: Record<string, string> = {},
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** A hash shortened for tables, the full value in its title. */
export function short(hash: string, keep = 10): HTMLElement {
  const node = el('code', hash.length > keep + 6 ? `${hash.slice(0, keep)}…${hash.slice(-4)}` : hash, { title: hash, class: 'hash' });
  return node;
}

/** A table row of cells (strings or nodes). */
export function row(cells: (string | Node)[]): HTMLTableRowElement {
  const tr = el('tr');
  for (const c of cells) {
    const td = el('td');
    td.append(c);
    tr.append(td);
  }
  return tr;
}

/** Shows a verdict in the page's `data-verdict` element: valid, or invalid with its reasons beside it. */
export function showVerdict(output: HTMLElement, valid: boolean, reasons: readonly string[], detail?: string): void {
  output.hidden = false;
  output.setAttribute('data-verdict', valid ? 'valid' : 'invalid');
  output.replaceChildren(el('span', valid ? 'valid' : 'invalid', { class: 'verdict-word' }));
  if (detail) output.append(el('span', ` — ${detail}`, { class: 'muted' }));
  if (!valid && reasons.length) {
    const list = el('ul', null, { class: 'reasons', 'aria-label': 'reasons' });
    for (const r of reasons) list.append(el('li', r));
    output.append(list);
  }
}

/** A short message for an error (the gateway's code when it has one). */
export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? err);
}
