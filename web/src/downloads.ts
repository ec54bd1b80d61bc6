/**
 * The result's downloads: JSON as the server sent it, ActivityNet-style JSON made here
 * (lib/exports.ts), AVA CSV and the annotated MP4 from the server (fetched with the key: a link
 * cannot send the Authorization header).
 */
import type { Api } from './api.js';
import { byId, el } from './dom.js';
import { downloadName, toActivityNetClassification, toActivityNetDetections } from './lib/exports.js';
import { clearError, showError } from './notice.js';
import type { Run } from './run.js';

function save(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = el('a', { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const json = (value: unknown): Blob => new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' });

/** The download buttons of a finished run; `threshold()` is the temporal threshold shown. */
export function showDownloads(current: Run, api: Api, threshold: () => number): void {
  const buttons: HTMLButtonElement[] = [];
  const add = (label: string, action: () => Promise<void> | void): void => {
    const b = el('button', { type: 'button', class: 'secondary' }, label);
    b.addEventListener('click', () => {
      clearError();
      Promise.resolve()
        .then(action)
        .catch((error: unknown) => showError(error));
    });
    buttons.push(b);
  };
  const id = current.videoId;
  const { classification, temporal, spatiotemporal, job } = current;
  add('JSON', () => save(downloadName(id, 'result', 'json'), json(classification ?? temporal ?? spatiotemporal)));
  if (classification)
    add('ActivityNet JSON', () => save(downloadName(id, 'activitynet', 'json'), json(toActivityNetClassification(classification, id))));
  if (temporal)
    add('ActivityNet JSON', () => save(downloadName(id, 'activitynet', 'json'), json(toActivityNetDetections(temporal, id, threshold()))));
  if (spatiotemporal && job)
    add('AVA CSV', async () => {
      const res = await api.request(`/jobs/${encodeURIComponent(job.id)}?format=ava-csv`);
      save(downloadName(id, 'ava', 'csv'), new Blob([await res.text()], { type: 'text/csv' }));
    });
  const render = job?.render;
  if (render)
    add('Annotated MP4', async () => {
      const res = await api.request(render);
      save(downloadName(id, 'annotated', 'mp4'), await res.blob());
    });
  byId('downloads').replaceChildren(...buttons);
}
