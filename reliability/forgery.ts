import fc from 'fast-check';
import type { Address, Hex } from 'viem';
import { verifyReceipt, type InferenceReceipt } from '../core/receipts';
import { PAID_PRICE } from '../test/support/test-stack';
import { addBody, authorize, pay, requirementsFor } from './payments';
import { bounded, newPayer, send, type SuiteContext } from './suite-context';
import { paymentHeader } from '../test/support/x402-payer';

/** Figures of the forgery and replay section. */
export interface ForgeryFigures {
  tried: number;
  accepted: number;
  byKind: Record<string, number>;
  acceptedByKind: Record<string, number>;
  acceptedExamples: string[];
  seed: number;
  seconds: number;
}

/** secp256k1's group order: s and n - s are the two signatures of one message (the high one is not canonical). */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SEED = 402;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every leaf of a JSON value, by path. */
function leaves(value: Json, path: (string | number)[] = []): (string | number)[][] {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
    return entries.flatMap(([k, v]) => leaves(v as Json, [...path, k]));
  }
  return [path];
}

function setAt(value: Json, path: (string | number)[], leaf: Json): Json {
  const copy = structuredClone(value);
  let node = copy as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, Json>;
  node[path[path.length - 1]!] = leaf;
  return copy;
}

/** Another value for a leaf: of another type, off by one, another hex of the same length, empty, huge, negative. */
function bentLeaf(original: Json): fc.Arbitrary<Json> {
  const variants: fc.Arbitrary<Json>[] = [
    fc.constantFrom<Json>(
      null,
      true,
      false,
      '',
      0,
      -1,
      2 ** 53,
      '0x',
      '-1',
      '115792089237316195423570985008687907853269984665640564039457584007913129639936',
    ),
    fc.string({ maxLength: 40 }),
    fc.integer(),
  ];
  if (typeof original === 'string' && /^0x[0-9a-fA-F]+$/.test(original) && original.length > 2) {
    const hexLen = original.length - 2;
    variants.push(
      fc.integer({ min: 0, max: hexLen - 1 }).chain((i) =>
        fc.integer({ min: 1, max: 15 }).map((x) => {
          const digit = (Number.parseInt(original[2 + i]!, 16) ^ x).toString(16);
          return `${original.slice(0, 2 + i)}${digit}${original.slice(3 + i)}`;
        }),
      ),
    );
  }
  if (typeof original === 'string' && /^\d+$/.test(original)) {
    variants.push(fc.constantFrom<Json>(String(BigInt(original) + 1n), String(BigInt(original) - 1n), `${original}0`, ` ${original}`));
  }
  if (typeof original === 'number') variants.push(fc.constantFrom<Json>(original + 1, original - 1, -original, original * 1000));
  return fc.oneof(...variants).filter((v) => JSON.stringify(v) !== JSON.stringify(original));
}

/** `count` field-by-field mutations of `value` (over the paths `pick` keeps) and the path each bent. */
function fieldMutations(value: Json, count: number, seed: number, pick: (path: string) => boolean = () => true): { path: string; value: Json }[] {
  const paths = leaves(value).filter((p) => pick(p.join('.')));
  const arb = fc.integer({ min: 0, max: paths.length - 1 }).chain((i) => {
    const path = paths[i]!;
    const original = path.reduce<Json>((n, k) => (n as Record<string | number, Json>)[k] as Json, value);
    return bentLeaf(original).map((leaf) => ({ path: path.join('.'), value: setAt(value, path, leaf) }));
  });
  // Every path at least once, then random ones.
  const firsts = paths.flatMap((path) => {
    const original = path.reduce<Json>((n, k) => (n as Record<string | number, Json>)[k] as Json, value);
    return fc
      .sample(bentLeaf(original), { numRuns: 1, seed: seed + path.length })
      .map((leaf) => ({ path: path.join('.'), value: setAt(value, path, leaf) }));
  });
  return [...firsts, ...fc.sample(arb, { numRuns: Math.max(0, count - firsts.length), seed })];
}

/** `count` byte-by-byte mutations of a text: one byte xor-ed with 1…255. */
function byteMutations(text: string, count: number, seed: number): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  return fc
    .sample(fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 })), { numRuns: count, seed })
    .map(([i, x]) => {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ x;
      return copy;
    });
}

/** The same signature with s replaced by n - s and v flipped: valid for ecrecover, not canonical. */
function highS(signature: Hex): Hex {
  const r = signature.slice(2, 66);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return `0x${r}${(SECP256K1_N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

/** Every one-bit flip of a signature's bytes (bit `b % 8` of byte `b`), and its high-s twin. */
function signatureMutations(signature: Hex): Hex[] {
  const bytes = Buffer.from(signature.slice(2), 'hex');
  const out: Hex[] = [highS(signature)];
  for (let i = 0; i < bytes.length; i++) {
    const copy = Buffer.from(bytes);
    copy[i] = copy[i]! ^ (1 << (i % 8));
    out.push(`0x${copy.toString('hex')}`);
  }
  return out;
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const unb64 = (header: string) => JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as Json;

/**
 * Forged and replayed payment headers (online, against a priced model, with the genuine
 * authorization already spent so any 200 is a forgery served), receipts (offline, `verifyReceipt`
 * with the registered backends) and attestations (online, `POST /v1/attestations/verify`), mutated
 * field by field and byte by byte with fast-check from a fixed seed, plus replays across models,
 * versions, chains and time.
 */
export async function forgeries(ctx: SuiteContext): Promise<ForgeryFigures> {
  const started = Date.now();
  const n = ctx.quick ? { header: 300, bytes: 120, receipt: 300, attestation: 220 } : { header: 700, bytes: 300, receipt: 600, attestation: 500 };
  const byKind: Record<string, number> = {};
  const acceptedByKind: Record<string, number> = {};
  const examples: string[] = [];
  const record = (kind: string, accepted: boolean, what: string) => {
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    if (!accepted) return;
    acceptedByKind[kind] = (acceptedByKind[kind] ?? 0) + 1;
    if (examples.length < 10) examples.push(`${kind}: ${what}`);
  };
  const deadline = started + (ctx.quick ? 120_000 : 300_000);
  const price = BigInt(PAID_PRICE);

  // Payment headers. The genuine authorization pays one call first; then nothing derived from it may buy another.
  const payer = await newPayer(ctx, price * 20n);
  const genuine = await authorize(ctx, payer, 'paid-add', addBody(1));
  const first = await pay(ctx, 'paid-add', genuine.body, { 'payment-signature': genuine.bare });
  if (first.status !== 200) throw new Error(`the genuine payment was refused: ${first.status} ${JSON.stringify(first.body)}`);
  const decoded = unb64(genuine.bare);
  const headers: { kind: string; header: string; what: string; model?: string; query?: string; legacy?: boolean }[] = [];
  for (const m of fieldMutations(decoded, n.header, SEED))
    headers.push({ kind: 'payment field', header: b64(JSON.stringify(m.value)), what: m.path });
  for (const [i, bytes] of byteMutations(JSON.stringify(decoded), n.bytes, SEED).entries()) {
    headers.push({ kind: 'payment byte', header: b64(bytes), what: `json byte mutation ${i}` });
  }
  for (const [i, bytes] of byteMutations(genuine.bare, Math.floor(n.bytes / 3), SEED + 1).entries()) {
    headers.push({ kind: 'payment byte', header: bytes.toString('latin1').replace(/[^\x20-\x7e]/g, '?'), what: `base64 byte mutation ${i}` });
  }
  const signature = (decoded as { payload: { signature: Hex } }).payload.signature;
  for (const [i, s] of signatureMutations(signature).entries()) {
    headers.push({
      kind: 'payment signature',
      header: b64(JSON.stringify(setAt(decoded, ['payload', 'signature'], s))),
      what: i === 0 ? 'high-s' : `bit flip ${i}`,
    });
  }
  // Replays: the spent authorization on the other priced model, another version, legacy form; across chains and time.
  headers.push({ kind: 'payment replay', header: genuine.bare, what: 'same model', model: 'paid-add' });
  headers.push({ kind: 'payment replay', header: genuine.bare, what: 'other priced model', model: 'paid-add-async' });
  headers.push({ kind: 'payment replay', header: genuine.bare, what: 'other version', model: 'paid-add', query: '?version=1' });
  headers.push({ kind: 'payment replay', header: genuine.legacy, what: 'legacy X-PAYMENT', model: 'paid-add', legacy: true });
  headers.push({ kind: 'payment replay', header: genuine.header, what: 'with a payment-identifier', model: 'paid-add-async' });
  const req = await requirementsFor(ctx, 'paid-add');
  const now = BigInt(Math.floor(Date.now() / 1000));
  const bent: [string, Parameters<typeof paymentHeader>[2], Record<string, unknown>?][] = [
    ['chain 1 domain', { chainId: 1 }],
    ['chain 1 network', { chainId: 1 }, { network: 'eip155:1' }],
    ['other token (verifyingContract)', { verifyingContract: '0x0000000000000000000000000000000000000001' }],
    ['expired', { validAfter: now - 7200n, validBefore: now - 3600n }],
    ['not yet valid', { validAfter: now + 3600n, validBefore: now + 7200n }],
    ['valid for too short', { validBefore: now + 5n }],
    ['price - 1', { value: price - 1n }],
    ['price + 1', { value: price + 1n }],
    ['paid to another', { to: payer.address }],
    ['signed by another key', { signer: (await newPayer(ctx, 0n)) as never }],
  ];
  for (const [what, o, accepted] of bent) {
    headers.push({ kind: 'payment replay', header: (await paymentHeader(payer, req, o, accepted as never)).header, what });
  }

  const balanceBefore = (await send(`${ctx.stack.gateway}/v1/models`)).status; // keeps the gateway warm
  void balanceBefore;
  await bounded(headers.length, 8, deadline, async (i) => {
    const h = headers[i]!;
    const a = await pay(ctx, h.model ?? 'paid-add', addBody(100 + (i % 50)), { [h.legacy ? 'x-payment' : 'payment-signature']: h.header }, h.query);
    record(h.kind, a.status === 200, `${h.what} → ${a.status}`);
  });

  // Receipts, offline: a real one from a free call, and every signed field, signature bit and tensor bent.
  const inputs = JSON.parse(addBody(3)).inputs as Record<string, unknown>;
  const served = await pay(ctx, 'tiny-add', addBody(3), {});
  if (served.status !== 200) throw new Error(`the free call failed: ${served.status}`);
  const reply = served.body as { receipt: InferenceReceipt; outputs: Record<string, { data: number[] }>; model: { sha256: Hex } };
  const trustedBackends = ctx.stack.backends.map((b) => b.address as Address);
  const check = (receipt: unknown, outputs: unknown = reply.outputs, ins: unknown = inputs) =>
    verifyReceipt(receipt as InferenceReceipt, { inputs: ins as never, outputs: outputs as never, trustedBackends, modelSha256: reply.model.sha256 });
  const baseline = await check(reply.receipt);
  if (!baseline.valid) throw new Error(`the genuine receipt does not verify: ${baseline.reasons.join(', ')}`);
  const signedFields =
    /^(requestId|modelSha256|inputHash|outputHash|backend|executionProvider|issuedAt|policyId|runMs|priceBase|pricePerMs|priceCap|charged|paymentScheme|paymentNetwork|paymentAsset|payer|paymentNonce|signature)$/;
  for (const m of fieldMutations(reply.receipt as unknown as Json, Math.floor(n.receipt * 0.6), SEED + 2, (p) => signedFields.test(p))) {
    record('receipt field', (await check(m.value)).valid, m.path);
  }
  for (const s of signatureMutations(reply.receipt.signature as Hex))
    record('receipt signature', (await check({ ...reply.receipt, signature: s })).valid, s);
  for (const m of fieldMutations(reply.outputs as unknown as Json, Math.floor(n.receipt * 0.2), SEED + 3, (p) => /data|dims|type/.test(p))) {
    record('receipt outputs', (await check(reply.receipt, m.value)).valid, `outputs.${m.path}`);
  }
  for (const m of fieldMutations(inputs as Json, Math.floor(n.receipt * 0.1), SEED + 4, (p) => /data|dims|type/.test(p))) {
    record('receipt inputs', (await check(reply.receipt, reply.outputs, m.value)).valid, `inputs.${m.path}`);
  }

  // Attestations, online: a real one for the demo intent, then every signed field and byte bent, and replays.
  const intent = {
    intent: { from: payer.address, to: '0x90F79bf6EB2c4f870365E785982E1f101E93b906', value: '1000', data: '0x', chainId: ctx.stack.chain!.chainId },
    policyId: ctx.stack.demoPolicyId,
    waitMs: 20_000,
  };
  const task = await send(`${ctx.stack.gateway}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(intent),
  });
  const attestation = (task.body as { attestation?: Json }).attestation;
  if (!attestation) throw new Error(`the demo intent got no attestation: ${task.status} ${JSON.stringify(task.body).slice(0, 300)}`);
  const verify = async (a: Json, extra: Record<string, unknown> = {}) => {
    const r = await send(`${ctx.stack.gateway}/v1/attestations/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ attestation: a, requireAllowed: false, ...extra }),
    });
    return r.status === 200 && (r.body as { valid?: boolean }).valid === true;
  };
  if (!(await verify(attestation))) throw new Error('the genuine attestation does not verify');
  const attestationChecks: { kind: string; what: string; run: () => Promise<boolean> }[] = [];
  for (const m of fieldMutations(attestation, Math.floor(n.attestation * 0.7), SEED + 5, (p) => !p.startsWith('reasons'))) {
    attestationChecks.push({ kind: 'attestation field', what: m.path, run: () => verify(m.value) });
  }
  const aggregate = (attestation as { aggregateSignature: Hex }).aggregateSignature;
  const aggBytes = Buffer.from(aggregate.slice(2), 'hex');
  for (const [i, x] of fc
    .sample(fc.tuple(fc.integer({ min: 0, max: aggBytes.length - 1 }), fc.integer({ min: 1, max: 255 })), {
      numRuns: Math.floor(n.attestation * 0.25),
      seed: SEED + 6,
    })
    .entries()) {
    const copy = Buffer.from(aggBytes);
    copy[x[0]] = copy[x[0]]! ^ x[1];
    attestationChecks.push({
      kind: 'attestation signature',
      what: `byte ${i}`,
      run: () => verify(setAt(attestation, ['aggregateSignature'], `0x${copy.toString('hex')}`)),
    });
  }
  attestationChecks.push({ kind: 'attestation replay', what: 'another chain', run: () => verify(attestation, { chainId: 1 }) });
  attestationChecks.push({
    kind: 'attestation replay',
    what: 'another policy',
    run: () => verify(attestation, { policyId: `0x${'11'.repeat(32)}` }),
  });
  attestationChecks.push({ kind: 'attestation replay', what: 'another client', run: () => verify(attestation, { policyClient: payer.address }) });
  const shortLived = await send(`${ctx.stack.gateway}/v1/intents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...intent, intent: { ...intent.intent, value: '1001' }, validForSeconds: 1 }),
  });
  const expiring = (shortLived.body as { attestation?: Json }).attestation;
  if (expiring) {
    attestationChecks.push({
      kind: 'attestation replay',
      what: 'after its expiration',
      run: async () => {
        const expiration = (expiring as { expiration: number }).expiration;
        await new Promise((r) => setTimeout(r, Math.max(0, (expiration + 2) * 1000 - Date.now())));
        return verify(expiring);
      },
    });
  }
  await bounded(attestationChecks.length, 6, deadline, async (i) => {
    const c = attestationChecks[i]!;
    record(c.kind, await c.run(), c.what);
  });

  const tried = Object.values(byKind).reduce((s, v) => s + v, 0);
  const accepted = Object.values(acceptedByKind).reduce((s, v) => s + v, 0);
  return { tried, accepted, byKind, acceptedByKind, acceptedExamples: examples, seed: SEED, seconds: Math.round((Date.now() - started) / 1000) };
}
