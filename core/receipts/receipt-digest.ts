import { keccak_256 } from '@noble/hashes/sha3.js';
import { concatBytes, hexToBytes } from 'viem';
import { RECEIPT_V2_TYPE, isReceiptV2, type ReceiptFields, type ReceiptFieldsV2 } from './inference-receipt';

// The EIP-712 digest of a receipt, computed directly for its two fixed types. viem's hashTypedData
// gives the same 32 bytes (a unit test compares them) but validates and walks the types on every
// call, which costs more than the rest of a small call's verification; this runs on every call,
// on the backend (signing) and in the Worker (checking).

const utf8 = new TextEncoder();
const keccak = (bytes: Uint8Array): Uint8Array => keccak_256(bytes);

const DOMAIN_SEPARATOR = keccak(
  concatBytes([keccak(utf8.encode('EIP712Domain(string name,string version)')), keccak(utf8.encode('Proofgate')), keccak(utf8.encode('1'))]),
);
const RECEIPT_TYPEHASH = keccak(
  utf8.encode(
    'InferenceReceipt(bytes32 requestId,bytes32 modelSha256,bytes32 inputHash,bytes32 outputHash,address backend,string executionProvider,uint64 issuedAt)',
  ),
);
const RECEIPT_V2_TYPEHASH = keccak(utf8.encode(RECEIPT_V2_TYPE));

function word(hex: string, bytes: number): Uint8Array {
  const raw = hexToBytes(hex as `0x${string}`);
  if (raw.length !== bytes) throw new Error(`expected ${bytes} bytes`);
  const out = new Uint8Array(32);
  out.set(raw, 32 - bytes);
  return out;
}

function uint64Word(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error('expected a non-negative integer');
  const out = new Uint8Array(32);
  new DataView(out.buffer).setBigUint64(24, BigInt(value));
  return out;
}

function uint256Word(decimal: string): Uint8Array {
  if (!/^(0|[1-9][0-9]{0,77})$/.test(decimal)) throw new Error('expected a decimal amount');
  const value = BigInt(decimal);
  if (value >> 256n !== 0n) throw new Error('amount exceeds uint256');
  return hexToBytes(`0x${value.toString(16).padStart(64, '0')}`);
}

function v1Words(fields: ReceiptFields): Uint8Array[] {
  return [
    word(fields.requestId, 32),
    word(fields.modelSha256, 32),
    word(fields.inputHash, 32),
    word(fields.outputHash, 32),
    word(fields.backend, 20),
    keccak(utf8.encode(fields.executionProvider)),
    uint64Word(fields.issuedAt),
  ];
}

function v2Words(fields: ReceiptFieldsV2): Uint8Array[] {
  return [
    ...v1Words(fields),
    word(fields.policyId, 32),
    uint64Word(fields.runMs),
    uint256Word(fields.priceBase),
    uint256Word(fields.pricePerMs),
    uint256Word(fields.priceCap),
    uint256Word(fields.charged),
    keccak(utf8.encode(fields.paymentScheme)),
    keccak(utf8.encode(fields.paymentNetwork)),
    word(fields.paymentAsset, 20),
    word(fields.payer, 20),
    word(fields.paymentNonce, 32),
  ];
}

/**
 * The 32-byte EIP-712 digest a backend signs for a receipt: of `InferenceReceiptV2` when the fields
 * are version 2's (they carry `charged`), else of `InferenceReceipt` (equal to viem's
 * `hashTypedData(receiptTypedDataV2(fields))` / `hashTypedData(receiptTypedData(fields))`).
 */
export function receiptDigest(fields: ReceiptFields | ReceiptFieldsV2): Uint8Array {
  const structHash = isReceiptV2(fields)
    ? keccak(concatBytes([RECEIPT_V2_TYPEHASH, ...v2Words(fields)]))
    : keccak(concatBytes([RECEIPT_TYPEHASH, ...v1Words(fields)]));
  return keccak(concatBytes([new Uint8Array([0x19, 0x01]), DOMAIN_SEPARATOR, structHash]));
}
