import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hashTypedData, hexToBytes, recoverTypedDataAddress, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import {
  RECEIPT_TYPES_V2,
  RECEIPT_V2_TYPE,
  ZERO_ADDRESS,
  ZERO_BYTES32,
  receiptCharge,
  receiptDigest,
  receiptTypedDataV2,
  signDigest,
  verifyReceipt,
  type InferenceReceipt,
  type ReceiptFieldsV2,
} from '../../../core/receipts';

// Version 2 of the receipt: the EIP-712 typed data is rebuilt here by hand from the type string
// README gives, with noble's keccak and secp256k1 directly (no EIP-712 library), and must agree
// with core both ways; version 1 receipts, fixed vectors below, still verify.

const key: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
const backend = privateKeyToAccount(key);
const other = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a84412f4603b6b78690');

// The type string as README states it, typed out here rather than imported.
const README_TYPE =
  'InferenceReceiptV2(bytes32 requestId,bytes32 modelSha256,bytes32 inputHash,bytes32 outputHash,address backend,string executionProvider,uint64 issuedAt,bytes32 policyId,uint64 runMs,uint256 priceBase,uint256 pricePerMs,uint256 priceCap,uint256 charged,string paymentScheme,string paymentNetwork,address paymentAsset,address payer,bytes32 paymentNonce)';

const utf8 = (s: string) => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
const left = (bytes: Uint8Array) => cat(new Uint8Array(32 - bytes.length), bytes);
const uintWord = (n: bigint | number) => hexToBytes(`0x${BigInt(n).toString(16).padStart(64, '0')}`);

/** EIP-712 encoding of one field of the type string, by its declared type. */
function encodeField(type: string, value: unknown): Uint8Array {
  if (type === 'string') return keccak_256(utf8(value as string));
  if (type === 'bytes32') return hexToBytes(value as Hex);
  if (type === 'address') return left(hexToBytes(value as Hex));
  if (type === 'uint64' || type === 'uint256') return uintWord(BigInt(value as string | number));
  throw new Error(`unexpected type ${type}`);
}

/** The digest of a v2 receipt computed from the type string alone. */
function independentDigest(fields: ReceiptFieldsV2): Uint8Array {
  const members = README_TYPE.slice(README_TYPE.indexOf('(') + 1, -1)
    .split(',')
    .map((m) => m.split(' ') as [string, string]);
  const struct = keccak_256(
    cat(keccak_256(utf8(README_TYPE)), ...members.map(([type, name]) => encodeField(type, (fields as unknown as Record<string, unknown>)[name]))),
  );
  const domain = keccak_256(cat(keccak_256(utf8('EIP712Domain(string name,string version)')), keccak_256(utf8('Proofgate')), keccak_256(utf8('1'))));
  return keccak_256(cat(new Uint8Array([0x19, 0x01]), domain, struct));
}

function independentSign(digest: Uint8Array, privateKey: Hex): Hex {
  const sig = secp256k1.sign(digest, hexToBytes(privateKey), { prehash: false, format: 'recovered', lowS: true });
  return `${bytesToHex(sig.subarray(1))}${(sig[0]! + 27).toString(16)}` as Hex;
}

function independentRecover(digest: Uint8Array, signature: Hex): Hex {
  const r = BigInt(`0x${signature.slice(2, 66)}`);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16) - 27;
  const point = new secp256k1.Signature(r, s).addRecoveryBit(v).recoverPublicKey(digest);
  return bytesToHex(keccak_256(point.toBytes(false).subarray(1)).subarray(12));
}

function meteredFields(runMs = 7, i = 0): ReceiptFieldsV2 {
  const terms = { priceBase: '500', pricePerMs: '100', priceCap: '100000' };
  return {
    requestId: `0x${(0x31 + i).toString(16).repeat(32)}` as Hex,
    modelSha256: `0x${'42'.repeat(32)}`,
    inputHash: `0x${'53'.repeat(32)}`,
    outputHash: `0x${'64'.repeat(32)}`,
    backend: backend.address,
    executionProvider: 'cuda',
    issuedAt: 1_795_000_000 + i,
    policyId: `0x${'75'.repeat(32)}`,
    runMs,
    ...terms,
    charged: receiptCharge(terms, runMs),
    paymentScheme: 'upto',
    paymentNetwork: 'eip155:31337',
    paymentAsset: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
    payer: other.address,
    paymentNonce: `0x${'86'.repeat(32)}`,
  };
}

const freeFields = (): ReceiptFieldsV2 => ({
  ...meteredFields(3),
  policyId: ZERO_BYTES32,
  priceBase: '0',
  pricePerMs: '0',
  priceCap: '0',
  charged: '0',
  paymentScheme: '',
  paymentNetwork: '',
  paymentAsset: ZERO_ADDRESS,
  payer: ZERO_ADDRESS,
  paymentNonce: ZERO_BYTES32,
});

const receiptOf = (f: ReceiptFieldsV2, signature: Hex): InferenceReceipt => ({
  ...f,
  model: 'ppocr-det-metered',
  version: 1,
  timings: { queueMs: 0.1, runMs: f.runMs - 0.5, totalMs: f.runMs + 1 },
  signature,
});

describe('receipt version 2', () => {
  it('has the type string README gives, derived from its EIP-712 types', () => {
    assert.equal(RECEIPT_V2_TYPE, README_TYPE);
    const fromTypes = `InferenceReceiptV2(${RECEIPT_TYPES_V2.InferenceReceiptV2.map((m) => `${m.type} ${m.name}`).join(',')})`;
    assert.equal(fromTypes, README_TYPE);
  });

  it('is accepted when built and signed by hand from the type string (noble only), for metered, fixed and free calls', async () => {
    const fixed = { ...meteredFields(40), priceBase: '2500', pricePerMs: '0', priceCap: '2500', charged: '2500', paymentScheme: 'exact' as const };
    for (const f of [meteredFields(), meteredFields(5000), fixed, freeFields()]) {
      const signature = independentSign(independentDigest(f), key);
      const v = await verifyReceipt(receiptOf(f, signature), { trustedBackends: [backend.address] });
      assert.deepEqual(v, { valid: true, signer: backend.address, reasons: [] }, JSON.stringify(f));
    }
  });

  it('is signed by core (the backend path) so that the hand-built digest recovers the backend, and equals viem hashTypedData', async () => {
    for (let i = 0; i < 4; i++) {
      const f = meteredFields(i * 13, i);
      const signature = signDigest(receiptDigest(f), key);
      assert.equal(bytesToHex(receiptDigest(f)), bytesToHex(independentDigest(f)));
      assert.equal(independentRecover(independentDigest(f), signature), backend.address.toLowerCase());
      assert.equal(bytesToHex(receiptDigest(f)), hashTypedData(receiptTypedDataV2(f)));
      assert.equal(signature, await backend.signTypedData(receiptTypedDataV2(f)));
      assert.equal(await recoverTypedDataAddress({ ...receiptTypedDataV2(f), signature }), backend.address);
    }
  });

  describe('fails when any signed field changes, including each payment and pricing field', () => {
    const f = meteredFields(12);
    const r = receiptOf(f, signDigest(receiptDigest(f), key));

    it('verifies unbent', async () => {
      assert.deepEqual((await verifyReceipt(r)).reasons, []);
    });

    const bent: Partial<InferenceReceipt>[] = [
      { policyId: ZERO_BYTES32 },
      { paymentScheme: 'exact' },
      { paymentNetwork: 'eip155:1' },
      { paymentAsset: other.address },
      { payer: backend.address },
      { paymentNonce: `0x${'87'.repeat(32)}` },
      // Pricing and charge bent together so that the charge still fits the terms: only the signature catches it.
      { runMs: 11, charged: receiptCharge(f, 11) },
      { priceBase: '400', charged: receiptCharge({ ...f, priceBase: '400' }, 12) },
      { pricePerMs: '99', charged: receiptCharge({ ...f, pricePerMs: '99' }, 12) },
      { priceCap: '1000', charged: '1000' },
    ];
    for (const change of bent) {
      it(`fails with ${JSON.stringify(change)}`, async () => {
        const v = await verifyReceipt({ ...r, ...change });
        assert.equal(v.valid, false);
        assert.notEqual(v.signer, backend.address);
      });
    }

    it('lets unsigned labels change', async () => {
      assert.equal((await verifyReceipt({ ...r, model: 'x', timings: { queueMs: 9, runMs: 9, totalMs: 9 } })).valid, true);
    });
  });

  it('refuses a charge that is not the terms applied to the signed run time, even when the backend signed it', async () => {
    const f = { ...meteredFields(12), charged: '1701' }; // 500 + 100 × 12 = 1700
    const v = await verifyReceipt(receiptOf(f, signDigest(receiptDigest(f), key)));
    assert.deepEqual(v.reasons, ['charge_mismatch']);
    assert.equal(v.signer, backend.address, 'the backend that signed it is named');
  });

  describe('reports malformed version 2 fields without throwing', () => {
    const f = meteredFields();
    const r = receiptOf(f, signDigest(receiptDigest(f), key));
    const bad: Record<string, unknown>[] = [
      { charged: '-1' },
      { charged: 17 },
      { runMs: 1.5 },
      { priceCap: 'lots' },
      { priceBase: '100001' },
      { paymentScheme: 'batch' },
      { payer: '0x1234' },
      { paymentNonce: '0x12' },
    ];
    for (const change of bad) {
      it(`${JSON.stringify(change)}: malformed_fields`, async () => {
        const v = await verifyReceipt({ ...r, ...change } as InferenceReceipt);
        assert.equal(v.valid, false);
        assert.ok(v.reasons.includes('malformed_fields'), v.reasons.join());
      });
    }
  });
});

describe('receipt version 1', () => {
  // Signed with viem's signTypedData over InferenceReceipt before version 2 existed.
  const v1: InferenceReceipt = {
    requestId: `0x${'ab'.repeat(32)}`,
    modelSha256: `0x${'cd'.repeat(32)}`,
    inputHash: `0x${'ef'.repeat(32)}`,
    outputHash: `0x${'01'.repeat(32)}`,
    backend: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
    executionProvider: 'cpu',
    issuedAt: 1_790_000_000,
    model: 'm',
    version: 1,
    timings: { queueMs: 0, runMs: 1, totalMs: 1 },
    signature: '0x02b14c723f0e2c7e0191766e7a57a145cc9b80bb045d7ba7e1e6c30469aaf658219d9e769768340dfde420606ff8968c926afa44ade07ec6ed3edb000cfd46b81b',
  };

  it('still verifies, and fails on a changed field', async () => {
    assert.deepEqual(await verifyReceipt(v1, { trustedBackends: [backend.address] }), { valid: true, signer: backend.address, reasons: [] });
    assert.equal((await verifyReceipt({ ...v1, issuedAt: v1.issuedAt + 1 })).valid, false);
  });

  it('cannot be passed off as version 2 (nor the reverse): the two types sign different digests', async () => {
    const asV2 = { ...v1, ...freeFields(), ...{ requestId: v1.requestId, modelSha256: v1.modelSha256 } } as InferenceReceipt;
    assert.equal((await verifyReceipt(asV2)).valid, false);
    const f = freeFields();
    const signed = receiptOf(f, signDigest(receiptDigest(f), key));
    const {
      policyId,
      runMs,
      priceBase,
      pricePerMs,
      priceCap,
      charged,
      paymentScheme,
      paymentNetwork,
      paymentAsset,
      payer,
      paymentNonce,
      ...stripped
    } = signed;
    assert.equal((await verifyReceipt(stripped)).valid, false);
  });
});
