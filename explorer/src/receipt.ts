/** A receipt's page: every field (version 2's policy, run time, pricing, charge and payment too), and the verdict of verifying it in this browser. */
import { getReceipt } from '../../sdk/src/api';
import type { InferenceReceipt } from '../../sdk/src/verify-receipt';
import { describeError, el, gateway, showVerdict } from './common';
import { verifyAgainstGateway } from './verify-receipt-here';

type Field = keyof InferenceReceipt;

const FIELDS: [Field, string][] = [
  ['requestId', 'Request id'],
  ['model', 'Model'],
  ['version', 'Version'],
  ['modelSha256', 'Model sha256'],
  ['inputHash', 'Input hash'],
  ['outputHash', 'Output hash'],
  ['backend', 'Backend'],
  ['executionProvider', 'Execution provider'],
  ['issuedAt', 'Issued at'],
  ['timings', 'Timings (not signed)'],
];

/** What version 2 adds: the admission policy, the billed run time, the pricing terms, the charge and the payment's identity. */
const V2_FIELDS: [Field, string][] = [
  ['policyId', 'Admission policy'],
  ['runMs', 'Run time billed'],
  ['priceBase', 'Price base'],
  ['pricePerMs', 'Price per ms'],
  ['priceCap', 'Price cap'],
  ['charged', 'Charged'],
  ['paymentScheme', 'Payment scheme'],
  ['paymentNetwork', 'Payment network'],
  ['paymentAsset', 'Payment asset'],
  ['payer', 'Payer'],
  ['paymentNonce', 'Payment nonce'],
];

const HEX_FIELDS = new Set<Field>([
  'requestId',
  'modelSha256',
  'inputHash',
  'outputHash',
  'backend',
  'signature',
  'policyId',
  'paymentAsset',
  'payer',
  'paymentNonce',
]);

const ZERO32 = /^0x0{64}$/;
const ZERO_ADDRESS = /^0x0{40}$/;

function text(receipt: InferenceReceipt, key: Field): string {
  const value = receipt[key];
  switch (key) {
    case 'issuedAt':
      return `${value} (${new Date(Number(value) * 1000).toISOString()})`;
    case 'timings':
      return `queue ${receipt.timings.queueMs} ms, run ${receipt.timings.runMs} ms, total ${receipt.timings.totalMs} ms`;
    case 'policyId':
      return ZERO32.test(String(value)) ? `${value} (no admission policy)` : String(value);
    case 'runMs':
      return `${value} ms (whole ms, rounded up)`;
    case 'priceBase':
    case 'pricePerMs':
    case 'priceCap':
      return `${value} units`;
    case 'charged':
      return `${value} units = min(cap ${receipt.priceCap}, base ${receipt.priceBase} + ${receipt.pricePerMs} × ${receipt.runMs} ms)`;
    case 'paymentScheme':
      return value === '' ? '(unpaid)' : String(value);
    case 'paymentNetwork':
      return value === '' ? '(unpaid)' : String(value);
    case 'paymentAsset':
    case 'payer':
      return ZERO_ADDRESS.test(String(value)) ? `${value} (unpaid)` : String(value);
    case 'paymentNonce':
      return ZERO32.test(String(value)) ? `${value} (unpaid)` : String(value);
    default:
      return String(value);
  }
}

async function main(): Promise<void> {
  const output = document.getElementById('verdict')!;
  const id = decodeURIComponent(location.pathname.split('/').pop() ?? '');
  document.title = `Receipt ${id.slice(0, 10)}… · Proofgate explorer`;
  let receipt: InferenceReceipt;
  try {
    receipt = await getReceipt(gateway, id as `0x${string}`);
  } catch (err) {
    showVerdict(output, false, [(err as { code?: string }).code ?? 'unavailable'], describeError(err));
    return;
  }
  const v2 = receipt.charged !== undefined;
  const dl = document.getElementById('fields')!;
  const fields = [
    ...FIELDS,
    ...(v2 ? V2_FIELDS : []),
    ['signature', `Signature (EIP-712 ${v2 ? 'InferenceReceiptV2' : 'InferenceReceipt'})`] as [Field, string],
  ];
  dl.append(el('dt', 'Receipt version'), el('dd', v2 ? '2: signs the policy, run time, pricing, charge and payment' : '1'));
  for (const [key, label] of fields) {
    dl.append(el('dt', label), el('dd', text(receipt, key), { class: HEX_FIELDS.has(key) ? 'hash' : '', 'data-field': key }));
  }
  const verdict = await verifyAgainstGateway(receipt);
  showVerdict(output, verdict.valid, verdict.reasons, verdict.valid ? `signed by registered backend ${verdict.signer}` : undefined);
}

void main();
