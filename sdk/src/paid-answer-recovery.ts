/**
 * A paid call whose answer is lost (the connection dropped after the request went out) must not be
 * paid again: the gateway keeps the answer a used payment authorization bought, and hands it to
 * whoever presents that authorization again at `GET /v1/payments/{id}/result`. x402 refuses the
 * authorization itself a second time (`402 payment_already_used`, whose message names that URL).
 */

/** Longest the client keeps asking for a lost answer (a sync settlement alone may take 30 s). */
export const RECOVERY_WINDOW_MS = 90_000;

const PAYMENT_HEADERS = ['payment-signature', 'x-payment'] as const;
const RESULT_PATH = /\/v1\/payments\/(pay_[0-9a-f]{32})\/result/;

/**
 * Wraps the fetch the x402 client sends its paid request with. A paid request (one carrying a
 * payment header) that fails in the network is sent again, byte for byte with the same payment
 * authorization, until the gateway answers: the call runs then if it never arrived (or was
 * released), `409 payment_in_progress` while it still runs, or `402 payment_already_used` naming the
 * result URL once it was answered, from which the answer is fetched with the same payment header.
 * A request without a payment header passes through untouched.
 */
export function recoveringPaidFetch(gateway: string, fetchImpl: typeof fetch, windowMs = RECOVERY_WINDOW_MS): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const payment = paymentHeaders(request.headers);
    if (!payment) return fetchImpl(request);
    const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
    const send = () => fetchImpl(request.url, { method: request.method, headers: request.headers, ...(body ? { body: body as BodyInit } : {}) });
    const deadline = Date.now() + windowMs;
    const res = await persist(send, deadline);
    const id = await deliveredPaymentId(res);
    if (id === null) return res;
    await res.body?.cancel();
    // The answer this authorization bought: the same payment header unlocks it, nothing is paid again.
    const result = `${gateway.replace(/\/+$/, '')}/v1/payments/${id}/result`;
    return persist(() => fetchImpl(result, { headers: { ...payment, accept: 'application/json' } }), deadline);
  };
}

// Sends until an answer other than a network error or "still in progress" comes, or the window ends.
async function persist(send: () => Promise<Response>, deadline: number): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    let res: Response;
    try {
      res = await send();
    } catch (err) {
      // fetch rejects with a TypeError when the network failed; anything else is not ours to retry.
      if (!(err instanceof TypeError) || Date.now() >= deadline) throw err;
      await sleep(Math.min(4000, 250 * 2 ** attempt));
      continue;
    }
    if (res.status !== 409 || Date.now() >= deadline || (await errorCode(res)) !== 'payment_in_progress') return res;
    const retryAfter = Number(res.headers.get('retry-after'));
    await res.body?.cancel();
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter, 10) * 1000 : 1000);
  }
}

function paymentHeaders(headers: Headers): Record<string, string> | null {
  const found: Record<string, string> = {};
  for (const name of PAYMENT_HEADERS) {
    const value = headers.get(name);
    if (value) found[name] = value;
  }
  return Object.keys(found).length ? found : null;
}

// The payment id of a `402 payment_already_used` whose message names the result of this very request.
async function deliveredPaymentId(res: Response): Promise<string | null> {
  if (res.status !== 402) return null;
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { error?: unknown; message?: unknown } | null;
  if (body?.error !== 'payment_already_used' || typeof body.message !== 'string') return null;
  return RESULT_PATH.exec(body.message)?.[1] ?? null;
}

async function errorCode(res: Response): Promise<string | null> {
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { error?: { code?: unknown } } | null;
  return typeof body?.error?.code === 'string' ? body.error.code : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
