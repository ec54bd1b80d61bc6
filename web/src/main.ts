/**
 * The results page: asks for an API key when the server needs one, lists the models of each
 * task (GET /models), uploads a video (or names a URL when the server fetches URLs), follows the
 * job live (GET /jobs/{id}/events) or the classification request, cancels either, and shows the
 * result over the player. DOM wiring only; the math is in lib/.
 */
import { Api } from './api.js';
import { byId, el } from './dom.js';
import { ApiError, describeError } from './lib/errors.js';
import { downloadName, toActivityNetClassification, toActivityNetDetections, videoIdOf } from './lib/exports.js';
import { formatEta, formatPercent, formatTime } from './lib/format.js';
import { modelsForTask } from './lib/models.js';
import { segmentsAt } from './lib/timeline.js';
import type { ClassifyResponse, Job, ModelList, SpatiotemporalResult, Task, TemporalResult } from './lib/types.js';
import { drawPeople, markKeyframe, showClassification, showKeyframes, showTimeline } from './views.js';

const api = new Api();
let models: ModelList | undefined;

interface Run {
  readonly task: Task;
  readonly videoId: string;
  readonly abort: AbortController;
  job?: Job;
  classification?: ClassifyResponse;
  temporal?: TemporalResult;
  spatiotemporal?: SpatiotemporalResult;
  done: boolean;
}
let run: Run | undefined;

const video = byId<HTMLVideoElement>('video');
const canvas = byId<HTMLCanvasElement>('overlay');
const scrub = byId<HTMLInputElement>('scrub');
const threshold = byId<HTMLInputElement>('threshold');
let playable = false;
let objectUrl: string | undefined;

// ---- errors

function showError(error: unknown): void {
  const e = error instanceof ApiError ? error : new ApiError(0, 'page_error', (error as Error)?.message ?? String(error));
  byId('error-code').textContent = e.code;
  byId('error-message').textContent = describeError(e);
  byId('error').hidden = false;
}

function clearError(): void {
  byId('error').hidden = true;
}

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

// ---- the player and its clock

function now(): number {
  return playable ? video.currentTime : Number(scrub.value);
}

function seek(time: number): void {
  if (playable) video.currentTime = time;
  scrub.value = String(time);
  redraw();
}

function redraw(): void {
  const t = now();
  const st = run?.spatiotemporal;
  const info = run?.temporal?.video ?? st?.video ?? run?.classification?.video;
  const shown = drawPeople(canvas, st, t, video.videoWidth || info?.width || 16, video.videoHeight || info?.height || 9);
  if (st) markKeyframe(shown);
  let caption = `At ${formatTime(t)}`;
  if (st && shown)
    caption += `: keyframe ${formatTime(shown.time)}, ${shown.people.length} ${shown.people.length === 1 ? 'person' : 'people'}`;
  if (run?.temporal) {
    const under = segmentsAt(run.temporal.segments, t, Number(threshold.value));
    caption += under.length
      ? `: ${under
          .slice(0, 3)
          .map((s) => s.label)
          .join(', ')}`
      : ': no segment';
  }
  byId('now').textContent = caption;
}

function animate(): void {
  redraw();
  if (!video.paused && !video.ended) requestAnimationFrame(animate);
}

function setAspect(width: number, height: number): void {
  if (width > 0 && height > 0) byId('stage').style.aspectRatio = `${width} / ${height}`;
}

function loadPlayer(source: string, name: string): void {
  playable = false;
  byId('player-note').hidden = true;
  byId('scrub-field').hidden = true;
  byId('stage').style.aspectRatio = '16 / 9';
  video.removeAttribute('src');
  video.load();
  video.dataset.name = name;
  video.src = source;
  byId('viewer').hidden = false;
}

video.addEventListener('loadedmetadata', () => {
  playable = true;
  video.controls = true;
  setAspect(video.videoWidth, video.videoHeight);
  byId('player-note').hidden = true;
  byId('scrub-field').hidden = true;
  redraw();
});
video.addEventListener('error', () => {
  if (!video.getAttribute('src')) return;
  playable = false;
  // Its controls would only show a player that cannot play (and hide the drawing under them).
  video.controls = false;
  const note = byId('player-note');
  note.textContent = `This browser cannot play ${video.dataset.name ?? 'the video'}; the result is drawn over a blank frame of its size: move through it with the Time slider, the timeline or the keyframes.`;
  note.hidden = false;
  byId('scrub-field').hidden = false;
  redraw();
});
video.addEventListener('play', () => requestAnimationFrame(animate));
video.addEventListener('seeked', redraw);
video.addEventListener('timeupdate', redraw);
scrub.addEventListener('input', redraw);
new ResizeObserver(redraw).observe(canvas);

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
  byId('result').hidden = true;
  loadPlayer(request.source, request.name);
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
  if (info && !playable) setAspect(info.width, info.height);
  if (info) scrub.max = String(info.durationSec);
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
        seek,
      );
      redraw();
    };
    threshold.oninput = update;
    update();
  }
  if (current.spatiotemporal) {
    const s = current.spatiotemporal;
    const people = s.keyframes.reduce((n, k) => n + k.people.length, 0);
    summary.push(`${s.model}: ${s.keyframes.length} keyframes, ${people} people (${s.detector} detector)`);
    showKeyframes(s, seek);
  }
  if (info) summary.push(`video ${formatTime(info.durationSec)}, ${info.width}x${info.height}, ${info.codec}`);
  byId('result-summary').textContent = summary.join(' · ');
  showDownloads(current);
  byId('result').hidden = false;
  redraw();
}

function download(name: string, type: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = el('a', { href: url, download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function showDownloads(current: Run): void {
  const buttons: HTMLButtonElement[] = [];
  const add = (label: string, action: () => Promise<void> | void): void => {
    const b = el('button', { type: 'button', class: 'secondary' }, label);
    b.addEventListener('click', () => {
      clearError();
      Promise.resolve(action()).catch(showError);
    });
    buttons.push(b);
  };
  const id = current.videoId;
  const result = current.classification ?? current.temporal ?? current.spatiotemporal;
  add('JSON', () => download(downloadName(id, 'result', 'json'), 'application/json', JSON.stringify(result, null, 2)));
  if (current.classification)
    add('ActivityNet JSON', () =>
      download(
        downloadName(id, 'activitynet', 'json'),
        'application/json',
        JSON.stringify(toActivityNetClassification(current.classification!, id), null, 2),
      ),
    );
  if (current.temporal)
    add('ActivityNet JSON', () =>
      download(
        downloadName(id, 'activitynet', 'json'),
        'application/json',
        JSON.stringify(toActivityNetDetections(current.temporal!, id, Number(threshold.value)), null, 2),
      ),
    );
  if (current.spatiotemporal && current.job)
    add('AVA CSV', async () => {
      const res = await api.request(`/jobs/${encodeURIComponent(current.job!.id)}?format=ava-csv`);
      download(downloadName(id, 'ava', 'csv'), 'text/csv', await res.text());
    });
  const render = current.job?.render;
  if (render)
    add('Annotated MP4', async () => {
      // Fetched (with the key), not linked: a link cannot send the Authorization header.
      const res = await api.request(render);
      const url = URL.createObjectURL(await res.blob());
      const a = el('a', { href: url, download: downloadName(id, 'annotated', 'mp4') });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    });
  byId('downloads').replaceChildren(...buttons);
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
