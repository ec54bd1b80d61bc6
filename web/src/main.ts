/**
 * The results page: asks for an API key when the server needs one, lists the models of each
 * task (GET /models), uploads a video (or names a URL when the server fetches URLs), follows the
 * job live (GET /jobs/{id}/events) or the classification request, cancels either, and shows the
 * result over the player. DOM wiring only; the math is in lib/.
 */
import { Api } from './api.js';
import { byId, el } from './dom.js';
import { showDownloads } from './downloads.js';
import { ApiError } from './lib/errors.js';
import { videoIdOf } from './lib/exports.js';
import { formatEta, formatPercent, formatTime } from './lib/format.js';
import { modelsForTask } from './lib/models.js';
import type { ClassifyResponse, Job, ModelList, SpatiotemporalResult, Task, TemporalResult } from './lib/types.js';
import { clearError, showError } from './notice.js';
import { Player } from './player.js';
import type { Run } from './run.js';
import { showClassification, showKeyframes, showTimeline } from './views.js';

const api = new Api();
let models: ModelList | undefined;

let run: Run | undefined;

const threshold = byId<HTMLInputElement>('threshold');
const player = new Player(() => Number(threshold.value));
let objectUrl: string | undefined;

// ---- the key and the models

async function loadModels(): Promise<void> {
  try {
    models = await api.json<ModelList>('/models');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      askForKey(api.key ? error : undefined);
      return;
    }
    byId('server').textContent = 'The server did not list its models.';
    showError(error);
    return;
  }
  clearError();
  byId('key-form').hidden = true;
  byId('submit-form').hidden = false;
  byId('server').textContent = `${models.models.length} models${api.key ? ' · API key set' : ''}`;
  byId('source-url-label').hidden = !models.videoUrls;
  for (const option of byId<HTMLSelectElement>('task').options) {
    const has = modelsForTask(models.models, option.value as Task).length > 0;
    option.disabled = !has;
    if (!has) option.textContent = `${option.textContent} (no model)`;
  }
  fillModels();
}

function askForKey(error?: ApiError): void {
  byId('submit-form').hidden = true;
  byId('key-form').hidden = false;
  byId('server').textContent = 'This server needs an API key.';
  if (error) showError(error);
  byId('api-key').focus();
}

function selectedTask(): Task {
  return byId<HTMLSelectElement>('task').value as Task;
}

function fillModels(): void {
  const task = selectedTask();
  const select = byId<HTMLSelectElement>('model');
  const list = modelsForTask(models?.models ?? [], task);
  select.replaceChildren(
    ...list.map((m) =>
      el('option', { value: m.name, ...(m.default ? { selected: '' } : {}) }, `${m.name}${m.default ? ' (default)' : ''}`),
    ),
  );
  for (const node of document.querySelectorAll<HTMLElement>('[data-task]'))
    node.hidden = !(node.dataset.task ?? '').split(' ').includes(task);
  describeModel();
}

function describeModel(): void {
  const m = models?.models.find((x) => x.name === byId<HTMLSelectElement>('model').value);
  byId('model-note').textContent = m
    ? `${m.architecture.arch}, ${m.labels.count} labels${m.labels.set ? ` (${m.labels.set})` : ''}${m.provenance.trained ? '' : ' · untrained: its scores mean nothing'}`
    : '';
}

// ---- a run

function setStatus(text: string, fraction?: number): void {
  byId('job-status').textContent = text;
  const bar = byId<HTMLProgressElement>('job-progress');
  if (fraction === undefined) bar.removeAttribute('value');
  else bar.value = fraction;
}

function finishRun(text: string, fraction?: number): void {
  if (run) run.done = true;
  setStatus(text, fraction);
  byId<HTMLButtonElement>('cancel').disabled = true;
}

function formFor(task: Task): { path: string; form: FormData; source: string; name: string } {
  const form = new FormData();
  const useUrl = (document.querySelector<HTMLInputElement>('input[name="source"]:checked')?.value ?? 'file') === 'url';
  form.append('model', byId<HTMLSelectElement>('model').value);
  if (task === 'classification') {
    const protocol = byId<HTMLSelectElement>('protocol').value;
    if (protocol) form.append('protocol', protocol);
    const clips = byId<HTMLInputElement>('num-clips').value;
    if (clips) form.append('numClips', clips);
    form.append('clipScores', 'true');
  }
  if (task === 'spatiotemporal-detection') form.append('keyframeInterval', byId<HTMLInputElement>('keyframe-interval').value || '1');
  if (task !== 'classification' && byId<HTMLInputElement>('render').checked) form.append('render', 'true');
  const path = {
    classification: '/classify',
    'temporal-detection': '/detect-temporal',
    'spatiotemporal-detection': '/detect-spatiotemporal',
  }[task];
  if (useUrl) {
    const url = byId<HTMLInputElement>('video-url').value.trim();
    if (!url) throw new ApiError(0, 'missing_parameter', 'give the URL of a video', 'url');
    form.append('url', url);
    return { path, form, source: url, name: url };
  }
  const file = byId<HTMLInputElement>('video-file').files?.[0];
  if (!file) throw new ApiError(0, 'missing_parameter', 'choose a video file to upload', 'video');
  if (objectUrl) URL.revokeObjectURL(objectUrl);
  objectUrl = URL.createObjectURL(file);
  // The file goes last: the server reads the fields before the upload.
  form.append('video', file, file.name);
  return { path, form, source: objectUrl, name: file.name };
}

async function start(): Promise<void> {
  clearError();
  const task = selectedTask();
  let request: ReturnType<typeof formFor>;
  try {
    request = formFor(task);
  } catch (error) {
    showError(error);
    return;
  }
  run?.abort.abort();
  const current: Run = { task, videoId: videoIdOf(request.name), abort: new AbortController(), done: false };
  run = current;
  player.run = current;
  byId('result').hidden = true;
  player.load(request.source, request.name);
  byId('job').hidden = false;
  byId<HTMLButtonElement>('cancel').disabled = false;
  setStatus('Uploading… 0 %', 0);
  try {
    const answer = await api.upload(
      request.path,
      request.form,
      (f) => {
        if (run === current && !current.done)
          setStatus(
            f < 1 ? `Uploading… ${formatPercent(f)}` : task === 'classification' ? 'Classifying…' : 'Uploaded, starting the job…',
            f < 1 ? f : undefined,
          );
      },
      current.abort.signal,
    );
    if (task === 'classification') {
      current.classification = answer.body as ClassifyResponse;
      finishRun('Done.', 1);
      showResult(current);
      return;
    }
    current.job = answer.body as Job;
    setStatus(`Job ${current.job.id}: ${current.job.status}`, current.job.progress.fraction);
    const finished = await api.followJob(
      current.job.id,
      {
        progress: (e) => {
          const parts = [
            e.status === 'queued' ? 'Queued' : `Stage: ${e.stage ?? 'starting'}`,
            formatPercent(e.progress.fraction),
            formatEta(e.progress.etaSec),
          ];
          setStatus(parts.filter(Boolean).join(' · '), e.progress.fraction);
        },
        stage: () => undefined,
      },
      current.abort.signal,
    );
    current.job = finished;
    if (finished.status === 'succeeded' && finished.result) {
      if (task === 'temporal-detection') current.temporal = finished.result as TemporalResult;
      else current.spatiotemporal = finished.result as SpatiotemporalResult;
      finishRun('Done.', 1);
      showResult(current);
    } else if (finished.status === 'cancelled') {
      finishRun(`Cancelled: ${finished.error?.message ?? 'the job was cancelled'} (${finished.error?.code ?? 'job_cancelled'})`, 0);
    } else {
      finishRun(`Failed (${finished.error?.code ?? 'job_failed'}).`, 0);
      showError(
        new ApiError(finished.error?.status ?? 500, finished.error?.code ?? 'job_failed', finished.error?.message ?? 'the job failed'),
      );
    }
  } catch (error) {
    if (run !== current) return;
    if (error instanceof ApiError && (error.code === 'cancelled' || error.code === 'aborted')) {
      finishRun(`Cancelled: ${error.message} (${error.code})`, 0);
      return;
    }
    finishRun('Failed.', 0);
    showError(error);
    if (error instanceof ApiError && error.status === 401) askForKey();
  }
}

async function cancel(): Promise<void> {
  const current = run;
  if (!current || current.done) return;
  byId<HTMLButtonElement>('cancel').disabled = true;
  if (!current.job) {
    current.abort.abort();
    return;
  }
  setStatus('Cancelling…');
  try {
    // The job's event stream then ends with its failure (status cancelled).
    await api.request(`/jobs/${encodeURIComponent(current.job.id)}`, { method: 'DELETE' });
  } catch (error) {
    showError(error);
    byId<HTMLButtonElement>('cancel').disabled = false;
  }
}

// ---- the result

function showResult(current: Run): void {
  const info = current.classification?.video ?? current.temporal?.video ?? current.spatiotemporal?.video;
  if (info) player.fitTo(info);
  byId('classification').hidden = !current.classification;
  byId('temporal').hidden = !current.temporal;
  byId('spatiotemporal').hidden = !current.spatiotemporal;
  const summary: string[] = [];
  if (current.classification) {
    const c = current.classification;
    summary.push(`${c.model}: ${c.labels.length} labels from ${c.protocol.views} views`);
    if (c.untrained) summary.push('untrained model: its scores mean nothing');
    showClassification(c);
  }
  if (current.temporal) {
    const t = current.temporal;
    summary.push(`${t.model} on ${t.backbone ?? 'features'}: ${t.segments.length} segments`);
    const update = (): void => {
      byId('threshold-value').textContent = Number(threshold.value).toFixed(2);
      showTimeline(
        t.segments,
        t.video?.durationSec ?? t.features.duration ?? Math.max(1, ...t.segments.map((s) => s.end)),
        Number(threshold.value),
        (t) => player.seek(t),
      );
      player.redraw();
    };
    threshold.oninput = update;
    update();
  }
  if (current.spatiotemporal) {
    const s = current.spatiotemporal;
    const people = s.keyframes.reduce((n, k) => n + k.people.length, 0);
    summary.push(`${s.model}: ${s.keyframes.length} keyframes, ${people} people (${s.detector} detector)`);
    showKeyframes(s, (t) => player.seek(t));
  }
  if (info) summary.push(`video ${formatTime(info.durationSec)}, ${info.width}x${info.height}, ${info.codec}`);
  byId('result-summary').textContent = summary.join(' · ');
  showDownloads(current, api, () => Number(threshold.value));
  byId('result').hidden = false;
  player.redraw();
}

// ---- wiring

byId('key-form').addEventListener('submit', (e) => {
  e.preventDefault();
  api.setKey(byId<HTMLInputElement>('api-key').value.trim());
  void loadModels();
});
byId('submit-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void start();
});
byId('task').addEventListener('change', fillModels);
byId('model').addEventListener('change', describeModel);
for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="source"]'))
  radio.addEventListener('change', () => {
    const url = radio.value === 'url' && radio.checked;
    byId('url-field').hidden = !url;
    byId('file-field').hidden = url;
  });
byId('cancel').addEventListener('click', () => void cancel());
void loadModels();
