/** The live view: backends, models, recent receipts and tasks, refreshed every few seconds. */
import { getModel, listBackends, listModels, listReceipts, listTasks, type ModelSummary } from '../../sdk/src/api';
import { describeError, el, gateway, row, short } from './common';

const REFRESH_MS = 5000;

// Free, a fixed price (x402 exact), or metered terms (x402 upto, at most the cap).
function priceOf(m: ModelSummary): string {
  if (m.pricing === 'metered') return `${m.base} + ${m.ratePerMs} per ms, at most ${m.price} units (metered, x402 upto)`;
  return m.price === '0' ? 'free' : `${m.price} units (x402)`;
}

function fill(id: string, rows: HTMLTableRowElement[], empty: string): void {
  const body = document.querySelector(`#${id} tbody`)!;
  if (rows.length === 0) {
    const td = el('td', empty, { colspan: String(document.querySelectorAll(`#${id} thead th`).length), class: 'muted' });
    const tr = el('tr');
    tr.append(td);
    rows = [tr];
  }
  body.replaceChildren(...rows);
}

async function refresh(): Promise<void> {
  const status = document.getElementById('status')!;
  try {
    const [backends, models, receipts, tasks] = await Promise.all([
      listBackends(gateway),
      listModels(gateway),
      listReceipts(gateway, { limit: 15 }),
      listTasks(gateway, { limit: 10 }).catch(() => []),
    ]);
    fill(
      'backends',
      backends.map((b) =>
        row([
          short(b.address),
          el('span', b.healthy ? 'healthy' : b.status === 'active' ? 'unhealthy' : b.status, { class: `pill ${b.healthy ? 'ok' : 'bad'}` }),
          b.executionProvider,
          String(b.inFlight),
          b.models === '*' ? 'any model' : `${b.models.length} model${b.models.length === 1 ? '' : 's'}`,
        ]),
      ),
      'No backend is registered.',
    );
    const versions = await Promise.all(models.map((m) => getModel(gateway, m.name).catch(() => [])));
    fill(
      'models',
      models.map((m, i) =>
        row([
          el('strong', m.name),
          (versions[i] ?? []).map((v) => `v${v.version}`).join(', ') || `v${m.latestVersion}`,
          short(m.sha256, 14),
          priceOf(m),
        ]),
      ),
      'No model is published.',
    );
    fill(
      'receipts',
      receipts.map((r) => {
        const link = el('a', null, { href: `/receipts/${r.requestId}` });
        link.append(short(r.requestId));
        return row([
          link,
          `${r.model} v${r.version}`,
          short(r.backend),
          r.executionProvider,
          `${r.timings.runMs.toFixed(1)} ms`,
          r.charged === undefined ? '—' : r.charged === '0' ? 'free' : `${r.charged} units`,
          new Date(r.issuedAt * 1000).toLocaleString(),
        ]);
      }),
      'No receipt yet: call a model.',
    );
    fill(
      'tasks',
      tasks.map((t) =>
        row([
          short(t.taskId),
          t.status ?? 'unknown',
          t.allowed === null ? '—' : el('span', t.allowed ? 'allowed' : 'denied', { class: `pill ${t.allowed ? 'ok' : 'bad'}` }),
          short(t.policyId),
          t.registry === null || t.registryBlock === null ? '—' : el('span', `block ${t.registryBlock}`, { title: `OperatorRegistry ${t.registry}` }),
          new Date(t.createdAt).toLocaleString(),
        ]),
      ),
      'No task yet.',
    );
    status.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    status.classList.remove('error');
  } catch (err) {
    status.textContent = `Could not load: ${describeError(err)}`;
    status.classList.add('error');
  }
}

void refresh();
setInterval(() => {
  if (document.visibilityState === 'visible') void refresh();
}, REFRESH_MS);
