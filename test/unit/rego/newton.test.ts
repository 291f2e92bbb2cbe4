import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getAddress, keccak256, toHex } from 'viem';
import { privateKeyToAccount, sign } from 'viem/accounts';
import { RegoEvalError, compilePolicy, evaluate, query } from '../../../core/rego/index';
import type { EvaluateOptions } from '../../../core/rego/index';

// Newton Protocol's newton.crypto.* Rego extensions: signer recovery against viem's signatures
// and against a vector published independently of this code.

const RECOVER = 'newton.crypto.ecdsa_recover_signer';
const PERSONAL = 'newton.crypto.ecdsa_recover_signer_personal';
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Calls a builtin on two operands passed through input (undefined when undefined). */
function call(fn: string, a: unknown, b: unknown, opts: EvaluateOptions = {}): unknown {
  const rows = query(compilePolicy({}), `x := ${fn}(input.a, input.b)`, { ...opts, input: { a, b } });
  return rows.length ? rows[0]!.x : undefined;
}

/** The builtin's strict-mode error message for these operands. */
function strictError(fn: string, a: unknown, b: unknown): string {
  try {
    call(fn, a, b, { strictBuiltinErrors: true });
  } catch (e) {
    assert.ok(e instanceof RegoEvalError);
    return `${e.code}: ${e.message}`;
  }
  assert.fail('expected a builtin error');
}

/** A signature with its recovery byte replaced. */
function withV(sig: string, v: number): string {
  return sig.slice(0, 130) + v.toString(16).padStart(2, '0');
}

// web3.js documentation, web3.eth.accounts.sign('Some data', key): signature and EIP-191 hash.
const WEB3_KEY = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
const WEB3_ADDRESS = '0x2c7536E3605D9C16a7a3D7b1898e529396a65c23';
const WEB3_SIG =
  '0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c';
const WEB3_HASH = '0x1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655';

const KEY = '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba';
const account = privateKeyToAccount(KEY);

/** A signed hash for each recovery parity (v = 27 and v = 28). */
async function signaturesByParity(): Promise<Map<number, { hash: `0x${string}`; sig: string }>> {
  const out = new Map<number, { hash: `0x${string}`; sig: string }>();
  for (let i = 0; out.size < 2; i++) {
    const hash = keccak256(toHex(`message ${i}`));
    const sig = await sign({ hash, privateKey: KEY, to: 'hex' });
    out.set(parseInt(sig.slice(130), 16), { hash, sig });
  }
  return out;
}

describe('newton.crypto.ecdsa_recover_signer', () => {
  it('recovers the published web3.js vector, with and without 0x', () => {
    assert.equal(call(RECOVER, WEB3_SIG, WEB3_HASH), WEB3_ADDRESS);
    assert.equal(call(RECOVER, WEB3_SIG.slice(2), WEB3_HASH.slice(2)), WEB3_ADDRESS);
    assert.equal(call(RECOVER, WEB3_SIG.toUpperCase().replace('0X', '0x'), WEB3_HASH), WEB3_ADDRESS);
    assert.equal(privateKeyToAccount(WEB3_KEY).address, WEB3_ADDRESS);
  });

  it('recovers viem signatures for v = 27, 28, 0 and 1 as EIP-55 checksummed addresses', async () => {
    const byParity = await signaturesByParity();
    for (const [v, { hash, sig }] of byParity) {
      assert.equal(call(RECOVER, sig, hash), account.address, `v=${v}`);
      assert.equal(call(RECOVER, withV(sig, v - 27), hash), account.address, `v=${v - 27}`);
    }
    assert.equal(account.address, getAddress(account.address.toLowerCase()));
    assert.notEqual(account.address, account.address.toLowerCase());
  });

  describe('is undefined for invalid operands, and raises the builtin error in strict mode', () => {
    type Signed = { hash: `0x${string}`; sig: string };
    const cases: [string, string, (s: Signed) => [unknown, unknown]][] = [
      ['a signature one byte short', 'signature must be 65 bytes, got 64', ({ sig, hash }) => [sig.slice(0, -2), hash]],
      ['a signature one byte long', 'signature must be 65 bytes, got 66', ({ sig, hash }) => [`${sig}00`, hash]],
      ['a hash one byte short', 'message_hash must be 32 bytes, got 31', ({ sig, hash }) => [sig, hash.slice(0, -2)]],
      ['a hash one byte long', 'message_hash must be 32 bytes, got 33', ({ sig, hash }) => [sig, `${hash}00`]],
      ['a signature of odd length', 'invalid hex in signature', ({ sig, hash }) => [sig.slice(0, -1), hash]],
      ['a hash with an upper-case prefix', 'invalid hex in message_hash', ({ sig, hash }) => [sig, hash.replace('0x', '0X')]],
      ['a signature with a non-hex digit', 'invalid hex in signature', ({ sig, hash }) => [sig.replace(/.$/, 'g'), hash]],
      ['v = 29', 'invalid recovery id: 29', ({ sig, hash }) => [withV(sig, 29), hash]],
      ['v = 2', 'invalid recovery id: 2', ({ sig, hash }) => [withV(sig, 2), hash]],
      ['r = 0', 'invalid signature: r and s must be in [1, n-1]', ({ sig, hash }) => [`0x${'00'.repeat(32)}${sig.slice(66)}`, hash]],
    ];
    for (const [name, message, operands] of cases) {
      it(`${name}: ${message}`, async () => {
        const [a, b] = operands((await signaturesByParity()).get(27)!);
        assert.equal(call(RECOVER, a, b), undefined);
        assert.equal(strictError(RECOVER, a, b), `eval_builtin_error: ${RECOVER}: ${message}`);
      });
    }

    it('a number: a type error in strict mode', async () => {
      const { hash } = (await signaturesByParity()).get(27)!;
      assert.match(strictError(RECOVER, 1, hash), /eval_type_error: newton\.crypto\.ecdsa_recover_signer: operand 1 must be string but got number/);
    });
  });

  it('refuses the high-s twin of a valid signature, as Newton (k256) does', async () => {
    const { hash, sig } = (await signaturesByParity()).get(27)!;
    // (r, n - s) with the other parity is the same signature made malleable; go-ethereum's SigToPub would accept it.
    const highS = `0x${sig.slice(2, 66)}${(N - BigInt(`0x${sig.slice(66, 130)}`)).toString(16).padStart(64, '0')}1c`;
    assert.equal(call(RECOVER, highS, hash), undefined);
    assert.equal(strictError(RECOVER, highS, hash), `eval_builtin_error: ${RECOVER}: invalid signature: s is in the upper half of the curve order`);
  });
});

describe('newton.crypto.ecdsa_recover_signer_personal', () => {
  it('recovers the published web3.js personal-message vector', () => {
    assert.equal(call(PERSONAL, WEB3_SIG, 'Some data'), WEB3_ADDRESS);
  });

  it('hashes the message as UTF-8 text, never hex-decoded (viem signMessage with a string)', async () => {
    for (const message of ['hello', 'héllo ✓ 🚀', '', '0xdeadbeef']) {
      const sig = await account.signMessage({ message });
      assert.equal(call(PERSONAL, sig, message), account.address, message);
      assert.equal(call(PERSONAL, sig.slice(2), message), account.address, message);
    }
    const raw = await account.signMessage({ message: { raw: '0xdeadbeef' } });
    assert.notEqual(call(PERSONAL, raw, '0xdeadbeef'), account.address);
  });

  it('is undefined for a bad signature', async () => {
    const sig = await account.signMessage({ message: 'hello' });
    assert.equal(call(PERSONAL, sig.slice(0, -2), 'hello'), undefined);
    assert.equal(strictError(PERSONAL, withV(sig, 29), 'hello'), `eval_builtin_error: ${PERSONAL}: invalid recovery id: 29`);
    assert.match(strictError(PERSONAL, sig, 7), /eval_type_error: .*operand 2 must be string but got number/);
  });
});

describe('Newton extensions in a policy', () => {
  const policy = compilePolicy({
    'signer.rego': `package newton.signer

default allow := false

allow if newton.crypto.ecdsa_recover_signer(input.sig, input.hash) == input.signer
`,
  });

  it('allows only the recovered signer', async () => {
    const { hash, sig } = (await signaturesByParity()).get(28)!;
    assert.equal(evaluate(policy, 'data.newton.signer.allow', { input: { sig, hash, signer: account.address } }), true);
    assert.equal(evaluate(policy, 'data.newton.signer.allow', { input: { sig, hash, signer: WEB3_ADDRESS } }), false);
    assert.equal(evaluate(policy, 'data.newton.signer.allow', { input: { sig: withV(sig, 29), hash, signer: account.address } }), false);
    assert.equal(evaluate(policy, 'data.newton.signer.allow', { input: { sig: WEB3_SIG, hash: WEB3_HASH, signer: WEB3_ADDRESS } }), true);
  });
});
