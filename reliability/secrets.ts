import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { anvilDevAccounts } from '../chain/anvil';
import { registrationTypedData } from '../core/backend-protocol';
import { bounded, send, type SuiteContext } from './suite-context';

/** Figures of the secrets-and-access section. */
export interface SecretsFigures {
  accessTried: number;
  accessAccepted: number;
  acceptedExamples: string[];
  foreignRegistrationsTried: number;
  foreignRegistrationsAccepted: number;
  secretsChecked: number;
  logFiles: number;
  logBytes: number;
  /** "secret (kind) in file" for each secret found in a log. */
  leaks: string[];
  /** What the grep allows, and why. */
  exceptions: string[];
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/**
 * Restricted routes (those GET / marks admin or operator) refuse missing, wrong and crossed
 * credentials; a backend cannot register under another backend's key; and no private key or token
 * appears in any log the stack wrote (the gateway's, the backends', the operators', anvil's, the
 * migrations'), with one exception: anvil prints its ten well-known dev keys itself at start.
 */
export async function secretsAndAccess(ctx: SuiteContext): Promise<SecretsFigures> {
  const index = await send(`${ctx.stack.gateway}/`, { headers: { accept: 'application/json' } });
  const restricted = ((index.body as { endpoints: string[] }).endpoints ?? [])
    .filter((e) => /\((admin|operator)/.test(e))
    .map((e) => {
      const [method, path] = e.split(' ') as [string, string];
      return {
        method,
        path: path.replace(/\{[^}]+\}/g, (m) => (m === '{name}' ? 'tiny-add' : `0x${'ab'.repeat(32)}`)),
        who: e.includes('(admin') ? 'admin' : 'operator',
      };
    });
  const { adminToken, operatorToken } = ctx.stack;
  const credentials = (who: string): [string, Record<string, string>][] => [
    ['none', {}],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['wrong token', { authorization: 'Bearer wrong-token-0123456789' }],
    ['token with one character changed', { authorization: `Bearer ${lastCharacterChanged(who === 'admin' ? adminToken : operatorToken)}` }],
    ['token as basic auth', { authorization: `Basic ${Buffer.from(`admin:${who === 'admin' ? adminToken : operatorToken}`).toString('base64')}` }],
    ['token in a query header', { 'x-admin-token': who === 'admin' ? adminToken : operatorToken }],
    [who === 'admin' ? 'the operator token' : 'the admin token', { authorization: `Bearer ${who === 'admin' ? operatorToken : adminToken}` }],
  ];
  const attempts = restricted.flatMap((r) => credentials(r.who).map(([what, headers]) => ({ ...r, what, headers })));
  let accepted = 0;
  const examples: string[] = [];
  await bounded(attempts.length, 6, Date.now() + 60_000, async (i) => {
    const a = attempts[i]!;
    const answer = await send(`${ctx.stack.gateway}${a.path}`, {
      method: a.method,
      headers: { 'content-type': 'application/json', ...a.headers },
      ...(a.method === 'GET' || a.method === 'DELETE' ? {} : { body: '{}' }),
    });
    if (answer.status !== 401 && answer.status !== 403) {
      accepted++;
      if (examples.length < 10) examples.push(`${a.method} ${a.path} with ${a.what} → ${answer.status}`);
    }
  });

  // A backend registering under another backend's address: signed by its own key (or by none).
  const victim = ctx.stack.backends[1] ?? ctx.stack.backends[0]!;
  const attacker = privateKeyToAccount(generatePrivateKey());
  const registration = {
    backend: victim.address as Hex,
    url: 'http://127.0.0.1:9',
    executionProvider: 'cpu',
    models: '*',
    issuedAt: Math.floor(Date.now() / 1000),
  };
  const forged = [await attacker.signTypedData(registrationTypedData(registration) as never), `0x${'00'.repeat(65)}`, `0x${'11'.repeat(65)}`];
  let foreignAccepted = 0;
  for (const signature of forged) {
    const answer = await send(`${ctx.stack.gateway}/v1/backends/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${operatorToken}` },
      body: JSON.stringify({ registration, signature }),
    });
    if (answer.status < 400) foreignAccepted++;
  }

  // The grep: every log file of the stack, for every secret the stack and the suite hold.
  const state = ctx.stack.stateDir;
  const secrets: [string, string][] = [
    ['admin token', adminToken],
    ['operator token', operatorToken],
  ];
  const env = readFileSync(join(state, 'secrets.env'), 'utf8');
  const gatewaySecret = env.match(/^GATEWAY_SECRET=(.+)$/m)?.[1];
  if (gatewaySecret) secrets.push(['gateway secret', gatewaySecret]);
  for (const f of files(join(state, 'keys'))) secrets.push([`key file ${f.slice(state.length + 1)}`, readFileSync(f, 'utf8').trim()]);
  for (const key of ctx.generatedKeys) secrets.push(['a payer key the suite generated', key]);
  const devKeys = new Set(anvilDevAccounts(10).map((a) => a.privateKey.toLowerCase()));
  for (const key of devKeys) secrets.push(['anvil dev key', key]);
  const logs = files(ctx.stack.logsDir);
  const leaks: string[] = [];
  let bytes = 0;
  for (const file of logs) {
    const text = readFileSync(file, 'utf8').toLowerCase();
    bytes += statSync(file).size;
    const anvilLog = file.endsWith('anvil.log');
    for (const [kind, secret] of secrets) {
      if (!secret || secret.length < 16) continue;
      const s = secret.toLowerCase();
      const bare = s.startsWith('0x') ? s.slice(2) : s;
      if (!text.includes(bare)) continue;
      if (kind === 'anvil dev key' && anvilLog) continue;
      leaks.push(`${kind} in ${file.slice(state.length + 1)}`);
    }
  }
  return {
    accessTried: attempts.length,
    accessAccepted: accepted,
    acceptedExamples: examples,
    foreignRegistrationsTried: forged.length,
    foreignRegistrationsAccepted: foreignAccepted,
    secretsChecked: secrets.length,
    logFiles: logs.length,
    logBytes: bytes,
    leaks,
    exceptions: ['anvil prints its ten well-known dev keys (the standard test mnemonic) itself at start, in anvil.log only'],
  };
}

// Always a different token: the tokens are random base64url, so a fixed replacement character would
// leave one token in 64 unchanged (and the suite would count the genuine token as accepted).
function lastCharacterChanged(token: string): string {
  return `${token.slice(0, -1)}${token.endsWith('x') ? 'y' : 'x'}`;
}
