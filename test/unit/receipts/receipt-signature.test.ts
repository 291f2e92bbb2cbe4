import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hashTypedData, recoverTypedDataAddress, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  SignerKeyCache,
  parseCanonicalSignature,
  receiptDigest,
  receiptTypedData,
  signDigest,
  verifyReceipt,
  type InferenceReceipt,
  type ReceiptFields,
} from '../../../core/receipts';

const key: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const backend = privateKeyToAccount(key);
const other = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a84412f4603b6b78690');
const N = secp256k1.Point.Fn.ORDER;

function fields(i: number): ReceiptFields {
  const b = (n: number) => `0x${n.toString(16).padStart(2, '0').repeat(32)}` as Hex;
  return {
    requestId: b(i),
    modelSha256: b(i + 1),
    inputHash: b(i + 2),
    outputHash: b(i + 3),
    backend: backend.address,
    executionProvider: i % 2 ? 'cuda' : 'cpu',
    issuedAt: 1_790_000_000 + i,
  };
}

function receiptOf(f: ReceiptFields, signature: Hex): InferenceReceipt {
  return { ...f, model: 'm', version: 1, timings: { queueMs: 0, runMs: 0, totalMs: 0 }, signature };
}

// The same signature with s replaced by n - s and v flipped: valid for plain ECDSA, but malleable.
function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

describe('receipt digest and signatures', () => {
  it('hashes a receipt exactly as EIP-712 (viem) does, and signs exactly as viem does', async () => {
    for (let i = 1; i < 6; i++) {
      const f = fields(i * 17);
      assert.equal(`0x${Buffer.from(receiptDigest(f)).toString('hex')}`, hashTypedData(receiptTypedData(f)));
      const mine = signDigest(receiptDigest(f), key);
      assert.equal(mine, await backend.signTypedData(receiptTypedData(f)));
      assert.equal(await recoverTypedDataAddress({ ...receiptTypedData(f), signature: mine }), backend.address);
    }
  });

  describe('refuses high-s and non-canonical v, which plain ECDSA recovery would accept', () => {
    const f = fields(3);
    const good = signDigest(receiptDigest(f), key);

    it('refuses the high-s twin, which viem alone accepts', async () => {
      const malleable = highS(good);
      assert.equal(await recoverTypedDataAddress({ ...receiptTypedData(f), signature: malleable }), backend.address, 'viem alone accepts it');
      assert.equal(parseCanonicalSignature(malleable), null);
      assert.deepEqual((await verifyReceipt(receiptOf(f, malleable))).reasons, ['non_canonical_signature']);
    });

    for (const v of ['00', '01', '1d', '1e']) {
      it(`refuses v = 0x${v}`, async () => {
        const bent = `${good.slice(0, 130)}${v}` as Hex;
        assert.deepEqual((await verifyReceipt(receiptOf(f, bent))).reasons, ['non_canonical_signature']);
      });
    }

    it('accepts the canonical signature', async () => {
      assert.deepEqual((await verifyReceipt(receiptOf(f, good))).reasons, []);
    });
  });

  it('verifies known signers cheaply once their key is known, with the same strictness', () => {
    const cache = new SignerKeyCache();
    const f = fields(9);
    const good = signDigest(receiptDigest(f), key);
    assert.equal(cache.verify(receiptDigest(f), good, backend.address), true, 'first: recovered');
    assert.equal(cache.verify(receiptDigest(fields(10)), signDigest(receiptDigest(fields(10)), key), backend.address), true, 'then: verified');
    assert.equal(cache.verify(receiptDigest(fields(11)), good, backend.address), false, 'another digest');
    assert.equal(cache.verify(receiptDigest(f), highS(good), backend.address), false, 'high s');
    assert.equal(cache.verify(receiptDigest(f), good, other.address), false, 'another signer');
    assert.equal(cache.verify(receiptDigest(f), '0x1234', backend.address), false, 'malformed');
  });
});
