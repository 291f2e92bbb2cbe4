import type { IRequest } from 'itty-router';
import { ProofgateError } from '../../core/errors';
import type { Env } from '../env';

// The explorer's pages are static assets (explorer/public, wrangler.toml [assets]); the Worker runs
// first for `/` and for receipt pages, whose paths are not files.

/** True when the client asks for a page (a browser's navigation), not for JSON. */
function wantsHtml(req: Request): boolean {
  const accept = req.headers.get('accept') ?? '';
  return /\btext\/html\b/.test(accept);
}

/** GET / for browsers: the explorer's home page. API clients fall through to the JSON index. */
export async function handleExplorerHome(req: IRequest, env: Env): Promise<Response | undefined> {
  if (!wantsHtml(req) || !env.ASSETS) return undefined;
  const page = await env.ASSETS.fetch(new Request(new URL('/', req.url), { headers: req.headers }));
  const res = new Response(page.body, page);
  res.headers.append('vary', 'accept'); // the same URL answers JSON to API clients
  return res;
}

/** GET /receipts/{requestId}: the explorer's receipt page (it reads the id from its own URL). */
export async function handleExplorerReceipt(req: IRequest, env: Env): Promise<Response> {
  if (!env.ASSETS) throw new ProofgateError('explorer_unavailable', 'this gateway serves no explorer', 404);
  // Only a request id (bytes32) has a page; anything else is answered like an unknown route.
  if (!/^0x[0-9a-fA-F]{64}$/.test(String(req.params['requestId']))) throw new ProofgateError('not_found', 'no receipt page for this id', 404);
  return env.ASSETS.fetch(new Request(new URL('/receipt', req.url), { headers: req.headers }));
}
