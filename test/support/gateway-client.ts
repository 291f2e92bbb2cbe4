/** A JSON response as the tests look at it. */
export interface JsonReply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Calls the gateway and parses its JSON answer. */
export async function call<T = any>(url: string, init: RequestInit = {}): Promise<JsonReply<T>> {
  const res = await fetch(url, init);
  const text = await res.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    body = text as T;
  }
  return { status: res.status, headers: res.headers, body };
}

/** POSTs a JSON body. */
export function postJson<T = any>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
  return call<T>(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
