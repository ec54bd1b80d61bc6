/**
 * The results page in a real browser: Debian's chromium driven by playwright-core (nothing
 * downloaded by playwright), against the real app in process on a free port with the real
 * bundled models. vtest.avi (Debian's opencv-doc) is uploaded for each task; the test reads the
 * page as a user sees it (labels, chart, timeline, the canvas's pixels) and compares it with the
 * job's result. Jobs can be held at a gate (a stage of their own) so that cancel is seen while
 * the job runs. Screenshots go to test-artifacts/browser/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.mjs';
import { ServiceError } from '../../src/errors.js';
import { createApp } from '../../src/http/app.js';
import { JobManager, type JobRunner } from '../../src/http/jobs/job-manager.js';
import { SqliteJobStore } from '../../src/http/jobs/sqlite-job-store.js';
import { temporalJobRunner } from '../../src/http/jobs/temporal-job.js';
import { ServiceState } from '../../src/http/service-state.js';
import { loadModels } from '../../src/kinds/load-models.js';
import type { ModelRegistry } from '../../src/runtime/model-registry.js';
import type { SpatiotemporalResult } from '../../src/tasks/spatiotemporal/detect.js';
import type { TemporalResult } from '../../src/tasks/temporal/detect.js';
import { DEFAULT_LIMITS } from '../../src/video/limits.js';
import { copyBundledModels } from '../helpers/models.js';
import { gate, type Gate } from '../helpers/gate.js';
import { localJobs } from '../helpers/jobs.js';

const CHROMIUM = '/usr/bin/chromium';
const VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'browser');
const root = mkdtempSync(join(tmpdir(), 'videomae-browser-'));

let registry: ModelRegistry;
let state: ServiceState;
let server: Server;
let base: string;
let browser: Browser;

/**
 * The little of the DOM that the functions run in the browser touch: this repository's type
 * check has no DOM library (its code runs on Node), and playwright's element types are `any` here.
 */
interface Canvas2d {
  readonly width: number;
  readonly height: number;
  getContext(id: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
  toDataURL(): string;
}
interface WithData {
  readonly dataset: Record<string, string | undefined>;
  readonly value: string;
}

/** The gate the next jobs wait at, in a stage of their own ('held'), before their real work. */
let hold: Gate | undefined;
/** The error the next job fails with, in its first stage (a fault injected by the test). */
let failNext: ServiceError | undefined;

function heldRunner(real: JobRunner): JobRunner {
  return async (job, signal, onProgress, filesDir) => {
    const failure = failNext;
    failNext = undefined;
    if (failure) {
      onProgress({ stage: 'probe', fraction: 0 });
      throw failure;
    }
    const g = hold;
    if (g) {
      onProgress({ stage: 'held', fraction: 0 });
      await new Promise<void>((resolve, reject) => {
        void g.opened.then(resolve);
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
    }
    return real(job, signal, onProgress, filesDir);
  };
}

async function listen(s: ServiceState): Promise<{ server: Server; base: string }> {
  const srv = createApp(s).listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  return { server: srv, base: `http://127.0.0.1:${(srv.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Debian's chromium is missing (${CHROMIUM}): run scripts/setup.sh (apt-get install chromium)`);
  await buildWeb();
  mkdirSync(ARTIFACTS, { recursive: true });
  const models = join(root, 'models');
  await copyBundledModels(models, ['default', 'temporal', 'ava-backbone', 'ava']);
  registry = await loadModels(models, { device: 'cpu' });
  state = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, jobWaitMs: 30_000 });
  state.setRegistry(registry);
  const stateDir = join(root, 'state');
  mkdirSync(stateDir, { recursive: true });
  state.jobs = new JobManager(new SqliteJobStore(join(stateDir, 'jobs.sqlite')), heldRunner(temporalJobRunner(state)), {
    dataDir: join(stateDir, 'jobs'),
    maxQueued: 8,
    concurrency: 1,
    retentionMs: 3600_000,
    maxAttempts: 1,
  });
  state.jobs.start();
  ({ server, base } = await listen(state));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  hold?.open();
  await browser?.close();
  server?.close();
  await state?.jobs?.close();
  await registry?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Every error the page's console reports, so a script failure fails the test. */
async function openPage(width: number, url = base): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/`);
  return { page, errors };
}

/** Chooses the task and uploads vtest.avi; resolves with the job id of the 202 (jobs) or undefined. */
async function submit(page: Page, task: string, options: Record<string, string> = {}, file = VTEST): Promise<string | undefined> {
  await page.selectOption('#task', task);
  for (const [selector, value] of Object.entries(options)) {
    const tag = await page.locator(selector).evaluate((n) => n.tagName);
    if (tag === 'SELECT') await page.selectOption(selector, value);
    else await page.fill(selector, value);
  }
  await page.setInputFiles('#video-file', file);
  const path = {
    classification: '/classify',
    'temporal-detection': '/detect-temporal',
    'spatiotemporal-detection': '/detect-spatiotemporal',
  }[task]!;
  const [answer] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === path), page.click('#run')]);
  if (task === 'classification') return undefined;
  expect(answer.status()).toBe(202);
  return ((await answer.json()) as { id: string }).id;
}

async function waitForResult(page: Page): Promise<void> {
  await page.locator('#result').waitFor({ state: 'visible', timeout: 120_000 });
}

/** Clicks a download button; resolves with the saved file's name and text. */
async function downloaded(page: Page, label: string): Promise<{ name: string; text: string }> {
  const [saved] = await Promise.all([page.waitForEvent('download'), page.click(`#downloads button:text-is("${label}")`)]);
  return { name: saved.suggestedFilename(), text: readFileSync((await saved.path())!, 'utf8') };
}

/** Pixels of the overlay canvas in the box colour (#00e5ff). */
function boxPixels(page: Page): Promise<number> {
  return page.$eval('#overlay', (c) => {
    const canvas = c as Canvas2d;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] === 0 && data[i + 1] === 229 && data[i + 2] === 255 && data[i + 3] === 255) n++;
    return n;
  });
}

/** The canvas covers the video element exactly (so the drawing lands where the picture is). */
async function expectCanvasOverVideo(page: Page): Promise<void> {
  const [video, canvas] = await Promise.all([page.locator('#video').boundingBox(), page.locator('#overlay').boundingBox()]);
  expect(video!.width).toBeGreaterThan(100);
  for (const key of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(canvas![key] - video![key])).toBeLessThan(1);
}

async function noHorizontalOverflow(page: Page): Promise<void> {
  const { scroll, client } = await page.$eval('html', (html: { scrollWidth: number; clientWidth: number }) => ({
    scroll: html.scrollWidth,
    client: html.clientWidth,
  }));
  expect(scroll).toBeLessThanOrEqual(client);
}

describe('the results page in chromium', () => {
  it('serves the page without a key; the page lists the models of each task', async () => {
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    const options = await page.$$eval('#model option', (o) => o.map((x) => (x as WithData).value));
    expect(options).toEqual(['default']);
    await page.selectOption('#task', 'spatiotemporal-detection');
    expect(await page.$$eval('#model option', (o) => o.map((x) => (x as WithData).value))).toEqual(['ava']);
    // No URL option on a server that fetches no URLs.
    expect(await page.locator('#source-url-label').isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('classifies vtest.avi: ranked labels and each label over the clips as a chart', async () => {
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    await page.selectOption('#task', 'classification');
    await page.selectOption('#protocol', 'k400');
    await page.setInputFiles('#video-file', VTEST);
    const [answer] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/classify'), page.click('#run')]);
    const body = (await answer.json()) as { labels: Array<{ label: string }>; clips: Array<{ scores: number[] }> };
    expect(answer.status()).toBe(200);
    await waitForResult(page);
    const shown = await page.$$eval('#labels li', (li) => li.map((x) => x.textContent ?? ''));
    expect(shown.map((t) => t.split(' ')[0])).toEqual(body.labels.map((l) => l.label));
    expect(body.clips).toHaveLength(5);
    const lines = await page.$$eval('#chart polyline', (p) => p.map((x) => (x.getAttribute('points') ?? '').split(' ').length));
    expect(lines).toEqual(body.labels.map(() => 5));
    expect(await page.textContent('#job-status')).toBe('Done.');
    // The score axis fits the scores; nothing to draw on, so no blank stage for a video the browser cannot play.
    const top = Math.max(...body.clips.flatMap((c) => c.scores));
    expect(await page.textContent('#chart-scale')).toMatch(/^Score 0 to (0\.\d+|1) \(bottom to top\), time 0:00\.0 to 1:19\.5/);
    const axisTop = Number((await page.textContent('#chart-scale'))!.split(' ')[3]);
    expect(axisTop).toBeGreaterThanOrEqual(top);
    expect(axisTop).toBeLessThan(2.5 * top);
    expect(await page.locator('#stage').isHidden()).toBe(true);
    expect(await page.textContent('#player-note')).toBe('This browser cannot play vtest.avi; the result below does not need it.');
    await page.screenshot({ path: join(ARTIFACTS, 'classification-1280.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('detects when actions happen: a timeline row per label, a threshold slider that filters, a segment click seeks', async () => {
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    // Every text the status line shows, in order (each assignment is its own mutation record).
    await page.evaluate(`window.statuses = [];
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) window.statuses.push(n.textContent);
      }).observe(document.getElementById('job-status'), { childList: true });`);
    // Held at the gate until the page follows it, so the page sees every stage from the first.
    const g = (hold = gate());
    let id: string | undefined;
    try {
      id = await submit(page, 'temporal-detection');
      await page.locator('#job-status', { hasText: /^Stage: held/ }).waitFor({ timeout: 60_000 });
    } finally {
      hold = undefined;
      g.open();
    }
    await waitForResult(page);
    const result = localJobs(state).get(id!).result as TemporalResult;
    expect(result.segments.length).toBeGreaterThan(10);
    // The job was followed live: each stage of the pipeline in order, its fraction growing, then done.
    const statuses = (await page.evaluate('window.statuses')) as string[];
    const stages = [...new Set(statuses.filter((t) => t.startsWith('Stage: ')).map((t) => t.split(' · ')[0]))];
    expect(stages).toEqual(['Stage: held', 'Stage: probe', 'Stage: features', 'Stage: detect', 'Stage: postprocess']);
    const percents = statuses.filter((t) => t.startsWith('Stage: ')).map((t) => Number(/ · (\d+) %/.exec(t)![1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(statuses[statuses.length - 1]).toBe('Done.');
    const labels = [...new Set(result.segments.map((s) => s.label))];
    expect(new Set(await page.$$eval('#timeline .track', (t) => t.map((x) => (x as WithData).dataset.label)))).toEqual(new Set(labels));

    const shownAt = async (threshold: number): Promise<number> => {
      await page.fill('#threshold', String(threshold));
      return page.locator('#timeline .segment').count();
    };
    const all = await shownAt(0);
    expect(all).toBe(result.segments.length);
    const cut = 0.3;
    const above = result.segments.filter((s) => s.score >= cut);
    expect(above.length).toBeGreaterThan(0);
    expect(above.length).toBeLessThan(all);
    expect(await shownAt(cut)).toBe(above.length);
    const scores = await page.$$eval('#timeline .segment', (b) => b.map((x) => Number((x as WithData).dataset.score)));
    expect(Math.min(...scores)).toBeGreaterThanOrEqual(cut);
    expect(await page.textContent('#segment-count')).toBe(`${above.length} of ${all} segments at or above 0.30`);
    // By keyboard: the slider moves with the arrow keys and the count follows.
    await page.focus('#threshold');
    await page.keyboard.press('ArrowRight');
    expect(await page.inputValue('#threshold')).toBe('0.31');
    expect(await page.locator('#timeline .segment').count()).toBe(result.segments.filter((s) => s.score >= 0.31).length);

    // vtest.avi (msmpeg4 in AVI) does not play in a browser: the page says so and keeps a clock of its own.
    expect(await page.textContent('#player-note')).toBe(
      'This browser cannot play vtest.avi; move through the result with the Time slider or the timeline.',
    );
    expect(await page.locator('#stage').isHidden()).toBe(true);
    const best = [...above].sort((a, b) => b.score - a.score)[0]!;
    const button = page.locator(`#timeline .segment[data-start="${best.start}"][data-score="${best.score}"]`);
    await button.focus();
    await page.keyboard.press('Enter');
    expect(Number(await page.inputValue('#scrub'))).toBe(best.start); // exactly: a slider step would round it out of the segment
    expect(await page.textContent('#now')).toContain(best.label);
    await page.screenshot({ path: join(ARTIFACTS, 'temporal-1280.png'), fullPage: true });

    // Downloads: the result as the server sent it, and ActivityNet JSON of the segments shown.
    const json = await downloaded(page, 'JSON');
    expect(json.name).toBe('vtest.result.json');
    expect(JSON.parse(json.text)).toEqual(result);
    const anet = await downloaded(page, 'ActivityNet JSON');
    expect(anet.name).toBe('vtest.activitynet.json');
    const shown = result.segments.filter((s) => s.score >= 0.31);
    expect(JSON.parse(anet.text).results).toEqual({
      vtest: shown.map((s) => ({ label: s.label, score: s.score, segment: [s.start, s.end] })),
    });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('draws the people and their actions on the canvas at the keyframe shown; 390 px wide has no horizontal overflow', async () => {
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    const id = await submit(page, 'spatiotemporal-detection', { '#keyframe-interval': '20' });
    await waitForResult(page);
    const result = localJobs(state).get(id!).result as SpatiotemporalResult;
    const times = result.keyframes.map((k) => k.time);
    expect(times.length).toBeGreaterThan(1);
    expect(await page.$$eval('#keyframes button', (b) => b.map((x) => Number((x as WithData).dataset.time)))).toEqual(times);
    const withPeople = result.keyframes.filter((k) => k.people.length > 0);
    expect(withPeople.length).toBeGreaterThan(1);

    /** Shows the keyframe at `time`; for each person, whether the middle of the box's top edge is in the box colour. */
    const drawnAt = async (time: number): Promise<{ pixels: number; edges: boolean[] }> => {
      await page.click(`#keyframes button[data-time="${time}"]`);
      const keyframe = result.keyframes.find((k) => k.time === time)!;
      // Where the canvas shows the video (object-fit: contain), as the user sees it.
      const edges = await page.$eval(
        '#overlay',
        (c, [boxes, w, h]) => {
          const canvas = c as Canvas2d;
          const scale = Math.min(canvas.width / w, canvas.height / h);
          const x0 = (canvas.width - w * scale) / 2;
          const y0 = (canvas.height - h * scale) / 2;
          const ctx = canvas.getContext('2d');
          return boxes.map((box) => {
            const x = Math.round(x0 + ((box[0]! + box[2]!) / 2) * w * scale);
            const y = Math.round(y0 + box[1]! * h * scale);
            // The stroke is 2 px wide, centred on the edge: the rows around it are in the box colour.
            return [-1, 0].every((dy) => {
              const [r, g, b, a] = ctx.getImageData(x, y + dy, 1, 1).data;
              return r === 0 && g === 229 && b === 255 && a === 255;
            });
          });
        },
        [keyframe.people.map((p) => p.box), result.video.width, result.video.height] as const,
      );
      expect(await page.getAttribute(`#keyframes button[data-time="${time}"]`, 'aria-current')).toBe('true');
      return { pixels: await boxPixels(page), edges };
    };
    const first = await drawnAt(withPeople[0]!.time);
    expect(first.edges).toEqual(withPeople[0]!.people.map(() => true));
    expect(first.pixels).toBeGreaterThan(100);
    const second = await drawnAt(withPeople[1]!.time);
    expect(second.edges).toEqual(withPeople[1]!.people.map(() => true));
    const pixelsNow = await page.$eval('#overlay', (c) => (c as Canvas2d).toDataURL());
    await drawnAt(withPeople[0]!.time);
    // Another keyframe, another picture: the drawing follows the time.
    expect(await page.$eval('#overlay', (c) => (c as Canvas2d).toDataURL())).not.toBe(pixelsNow);
    expect(await page.textContent('#now')).toContain(`${withPeople[0]!.people.length} `);
    await page.screenshot({ path: join(ARTIFACTS, 'spatiotemporal-1280.png'), fullPage: true });
    // AVA CSV, as the server writes it: one row per person and action.
    const csv = await downloaded(page, 'AVA CSV');
    expect(csv.name).toBe('vtest.ava.csv');
    const rows = csv.text.trim().split('\n');
    expect(rows).toHaveLength(result.keyframes.reduce((n, k) => n + k.people.reduce((m, p) => m + p.actions.length, 0), 0));
    const p0 = withPeople[0]!.people[0]!;
    expect(rows).toContain(
      ['vtest', withPeople[0]!.time, ...p0.box.map((v) => v.toFixed(4)), p0.actions[0]!.id, p0.actions[0]!.score.toFixed(4)].join(','),
    );
    await noHorizontalOverflow(page);

    await page.setViewportSize({ width: 390, height: 844 });
    await noHorizontalOverflow(page);
    await expectCanvasOverVideo(page);
    // Still drawn at the narrow width (the canvas follows its new size).
    const narrow = await drawnAt(withPeople[0]!.time);
    expect(narrow.edges).toEqual(withPeople[0]!.people.map(() => true));
    expect(narrow.pixels).toBeGreaterThan(50);
    await page.screenshot({ path: join(ARTIFACTS, 'spatiotemporal-390.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('plays a video the browser can play: segments and keyframes seek the player, the drawing follows its currentTime', async () => {
    // The first 12 s of vtest.avi as H.264 MP4, which chromium plays.
    const mp4 = join(root, 'vtest-12s.mp4');
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-i',
      VTEST,
      '-t',
      '12',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      mp4,
    ]);
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    const currentTimeIs = (t: number) => page.waitForFunction(`Math.abs(document.getElementById('video').currentTime - ${t}) < 0.001`);

    await page.selectOption('#task', 'temporal-detection');
    await page.check('#render');
    const temporalId = await submit(page, 'temporal-detection', {}, mp4);
    await waitForResult(page);
    // The annotated video (render=true), fetched by the page and saved as a download: an MP4.
    const [saved] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button:has-text("Annotated MP4")')]);
    expect(saved.suggestedFilename()).toBe('vtest-12s.annotated.mp4');
    const bytes = readFileSync((await saved.path())!);
    expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect(bytes.length).toBeGreaterThan(10_000);
    await page.uncheck('#render');
    await page.fill('#threshold', '0');
    expect(await page.locator('#player-note').isHidden()).toBe(true);
    expect(await page.$eval('#video', (v: { controls: boolean; videoWidth: number }) => [v.controls, v.videoWidth])).toEqual([true, 768]);
    const segments = (localJobs(state).get(temporalId!).result as TemporalResult).segments;
    const later = [...segments].sort((a, b) => b.start - a.start)[0]!;
    await page.click(`#timeline .segment[data-start="${later.start}"][data-score="${later.score}"]`);
    await currentTimeIs(later.start);

    const id = await submit(page, 'spatiotemporal-detection', { '#keyframe-interval': '4' }, mp4);
    await waitForResult(page);
    const result = localJobs(state).get(id!).result as SpatiotemporalResult;
    const times = result.keyframes.filter((k) => k.people.length > 0).map((k) => k.time);
    expect(times.length).toBeGreaterThan(1);
    const [a, b] = [times[0]!, times[times.length - 1]!];
    await page.click(`#keyframes button[data-time="${b}"]`);
    await currentTimeIs(b);
    await page.locator(`#keyframes button[data-time="${b}"][aria-current="true"]`).waitFor();
    expect(await boxPixels(page)).toBeGreaterThan(100);
    const atB = await page.$eval('#overlay', (c) => (c as Canvas2d).toDataURL());
    // Moving the player itself (as its own time bar does) moves the drawing to the keyframe nearest its time.
    await page.$eval('#video', (v: { currentTime: number }, t: number) => (v.currentTime = t), a + 0.2);
    await page.locator(`#keyframes button[data-time="${a}"][aria-current="true"]`).waitFor();
    expect(await page.$eval('#overlay', (c) => (c as Canvas2d).toDataURL())).not.toBe(atB);
    expect(await boxPixels(page)).toBeGreaterThan(100);
    await expectCanvasOverVideo(page);
    await page.screenshot({ path: join(ARTIFACTS, 'spatiotemporal-playing-1280.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await expectCanvasOverVideo(page);
    await noHorizontalOverflow(page);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('goes through the form by keyboard in reading order', async () => {
    const { page } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    await page.selectOption('#task', 'classification');
    await page.focus('input[name="source"][value="file"]');
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.$eval(':focus', (e: { id: string }) => e.id));
    }
    expect(order).toEqual(['video-file', 'task', 'model', 'protocol', 'num-clips', 'run']);
    await page.close();
  });

  it('cancels a classification while its upload is under way (the request is stopped)', async () => {
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    // The request is held in the browser until the test lets it go: the page is mid-request.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let seen!: () => void;
    const requested = new Promise<void>((r) => (seen = r));
    await page.route('**/classify', async (route) => {
      seen();
      await released;
      await route.abort();
    });
    await page.selectOption('#task', 'classification');
    await page.setInputFiles('#video-file', VTEST);
    await page.click('#run');
    await requested;
    expect(await page.isDisabled('#cancel')).toBe(false);
    await page.click('#cancel');
    await page.locator('#job-status', { hasText: /^Cancelled/ }).waitFor();
    expect(await page.textContent('#job-status')).toBe('Cancelled: the request was cancelled (cancelled)');
    expect(await page.locator('#error').isHidden()).toBe(true);
    release();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows live progress and cancels a running job', async () => {
    const { page, errors } = await openPage(390);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    hold = gate();
    try {
      const id = await submit(page, 'temporal-detection');
      await page.locator('#job-status', { hasText: /^Stage: held/ }).waitFor({ timeout: 60_000 });
      expect(localJobs(state).get(id!).status).toBe('running');
      await noHorizontalOverflow(page);
      await page.screenshot({ path: join(ARTIFACTS, 'cancel-running-390.png'), fullPage: true });
      await page.click('#cancel');
      await page.locator('#job-status', { hasText: /^Cancelled/ }).waitFor({ timeout: 60_000 });
      expect(await page.textContent('#job-status')).toContain('(job_cancelled)');
      expect(localJobs(state).get(id!).status).toBe('cancelled');
      expect(await page.locator('#result').isHidden()).toBe(true);
      expect(await page.isDisabled('#cancel')).toBe(true);
    } finally {
      hold.open();
      hold = undefined;
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it("shows a server error's message and code", async () => {
    const { page } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    await page.selectOption('#task', 'classification');
    await page.setInputFiles('#video-file', {
      name: 'notes.mp4',
      mimeType: 'video/mp4',
      buffer: Buffer.from('this is not a video\n'.repeat(50)),
    });
    await page.click('#run');
    await page.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    const code = await page.textContent('#error-code');
    expect(code).toMatch(/^[a-z_]+$/);
    expect(await page.textContent('#error-message')).toContain(`(${code}, HTTP 415)`);
    // Nothing chosen: the page says what is missing before sending anything.
    await page.reload();
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    await page.click('#run');
    expect(await page.textContent('#error-code')).toBe('missing_parameter');
    await page.close();
  });

  it('offers a URL when the server fetches URLs, and shows its refusal', async () => {
    const urls = new ServiceState({
      device: 'cpu',
      limits: DEFAULT_LIMITS,
      maxBatch: 4,
      tempDir: root,
      urlFetch: { allowHosts: ['videos.example'], maxBytes: 5_000_000, timeoutMs: 5_000, maxRedirects: 5 },
    });
    urls.setRegistry(registry);
    const other = await listen(urls);
    try {
      const { page, errors } = await openPage(390, other.base);
      await page.locator('#submit-form').waitFor({ state: 'visible' });
      expect(await page.locator('#video-url').isHidden()).toBe(true);
      await page.check('#source-url');
      expect(await page.locator('#video-file').isHidden()).toBe(true);
      await page.fill('#video-url', 'https://elsewhere.example/clip.mp4');
      const [answer] = await Promise.all([page.waitForResponse((r) => new URL(r.url()).pathname === '/classify'), page.click('#run')]);
      expect(answer.status()).toBe(400);
      await page.locator('#error').waitFor({ state: 'visible' });
      expect(await page.textContent('#error-code')).toBe('url_not_allowed');
      expect(await page.textContent('#error-message')).toContain('(url_not_allowed, HTTP 400)');
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      other.server.close();
    }
  });

  it("shows a failed job's error, as its event stream ends with it", async () => {
    const { page, errors } = await openPage(1280);
    await page.locator('#submit-form').waitFor({ state: 'visible' });
    failNext = new ServiceError(415, 'truncated_media', "upload 'vtest.avi' ends before the frames its index promises");
    const id = await submit(page, 'temporal-detection');
    await page.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    expect(localJobs(state).get(id!).status).toBe('failed');
    expect(await page.textContent('#error-code')).toBe('truncated_media');
    expect(await page.textContent('#error-message')).toBe(
      "upload 'vtest.avi' ends before the frames its index promises (truncated_media, HTTP 415)",
    );
    expect(await page.textContent('#job-status')).toBe('Failed (truncated_media).');
    expect(await page.locator('#result').isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('asks for the API key when the server needs one, and sends it', async () => {
    const keyed = new ServiceState({ device: 'cpu', limits: DEFAULT_LIMITS, maxBatch: 4, tempDir: root, apiKeys: ['sesame'] });
    keyed.setRegistry(registry);
    keyed.jobs = state.jobs;
    const other = await listen(keyed);
    try {
      const { page, errors } = await openPage(390, other.base);
      await page.locator('#key-form').waitFor({ state: 'visible' });
      expect(await page.$eval(':focus', (e: { id: string }) => e.id)).toBe('api-key');
      await page.keyboard.type('wrong');
      await page.keyboard.press('Enter');
      await page.locator('#error').waitFor({ state: 'visible' });
      expect(await page.textContent('#error-code')).toBe('unauthorized');
      expect(await page.textContent('#error-message')).toContain('HTTP 401');
      await page.fill('#api-key', 'sesame');
      await page.keyboard.press('Enter');
      await page.locator('#submit-form').waitFor({ state: 'visible' });
      expect(await page.locator('#error').isHidden()).toBe(true);
      // A job through the keyed server, followed over its event stream with the key.
      const id = await submit(page, 'temporal-detection');
      await waitForResult(page);
      expect(localJobs(state).get(id!).status).toBe('succeeded');
      expect(await page.locator('#timeline .track').count()).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      await page.close();
    } finally {
      other.server.close();
    }
  });
});
