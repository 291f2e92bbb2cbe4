/** Verifies a receipt in the browser against this gateway: its registered backends and the hub's model hash. */
import { getModel, listBackends } from '../../sdk/src/api';
import { verifyReceipt, type InferenceReceipt } from '../../sdk/src/verify-receipt';
import { gateway } from './common';

/** The verdict on a receipt: signature, registered backend, model hash of the named version. */
export async function verifyAgainstGateway(receipt: InferenceReceipt): Promise<{ valid: boolean; reasons: string[]; signer: string | null }> {
  const [backends, versions] = await Promise.all([
    listBackends(gateway),
    typeof receipt.model === 'string' ? getModel(gateway, receipt.model).catch(() => []) : Promise.resolve([]),
  ]);
  const hub = versions.find((v) => v.version === receipt.version);
  const verdict = await verifyReceipt(receipt, {
    trustedBackends: backends.map((b) => b.address),
    ...(hub ? { modelSha256: hub.sha256 } : {}),
  });
  const reasons = [...verdict.reasons];
  if (!hub) reasons.push('unknown_model_version');
  return { valid: reasons.length === 0, reasons, signer: verdict.signer };
}
