/**
 * The result views: ranked labels and the per-clip chart, the timeline, the keyframe list and the
 * boxes drawn on the overlay canvas. Each takes the data and its elements; the layout math is in
 * lib/ (pure, unit-tested).
 */
import { chartTop, clipChart } from './lib/chart.js';
import { formatScore, formatTime } from './lib/format.js';
import { contentRect, nearestKeyframe, personCaption, scaleBox } from './lib/overlay.js';
import { layoutTimeline } from './lib/timeline.js';
import type { ClassifyResponse, Keyframe, SpatiotemporalResult, TemporalSegment } from './lib/types.js';
import { byId, el, PALETTE, svg } from './dom.js';

const CHART_W = 600;
const CHART_H = 160;

export function showClassification(result: ClassifyResponse): void {
  const list = byId('labels');
  list.replaceChildren(...result.labels.map((l) => el('li', {}, `${l.label} ${formatScore(l.score)}`)));
  const chart = byId('chart');
  const legend = byId('chart-legend');
  const note = byId('chart-note');
  const clips = result.clips ?? [];
  const top = chartTop(clips);
  byId('chart-scale').textContent =
    `Score 0 to ${top} (bottom to top), time ${formatTime(0)} to ${formatTime(result.video.durationSec)} (left to right)`;
  const series = clipChart(
    clips,
    result.labels.map((l) => l.label),
    result.video.durationSec,
    CHART_W,
    CHART_H,
    top,
  );
  const grid = [0.25, 0.5, 0.75].map((f) =>
    svg('line', { x1: 0, x2: CHART_W, y1: f * CHART_H, y2: f * CHART_H, stroke: '#d0d7de', 'stroke-width': 1 }),
  );
  chart.replaceChildren(
    ...grid,
    ...series.flatMap((s, i) => {
      const colour = PALETTE[i % PALETTE.length]!;
      const line = svg('polyline', {
        points: s.points,
        fill: 'none',
        stroke: colour,
        'stroke-width': 2,
        'vector-effect': 'non-scaling-stroke',
      });
      line.setAttribute('data-label', s.label);
      const dots = s.dots.map((d) => {
        const c = svg('circle', { cx: d.x, cy: d.y, r: 3, fill: colour });
        const title = svg('title', {});
        title.textContent = `${s.label} at ${formatTime(d.time)}: ${formatScore(d.score)}`;
        c.appendChild(title);
        return c;
      });
      return [line, ...dots];
    }),
  );
  chart.setAttribute('aria-label', `Scores of the top ${series.length} labels over ${clips.length} clips`);
  legend.replaceChildren(
    ...series.map((s, i) => {
      const item = el('li');
      const swatch = el('span', { class: 'swatch' });
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      swatch.style.background = PALETTE[i % PALETTE.length]!;
      item.append(swatch, s.label);
      return item;
    }),
  );
  note.hidden = clips.length > 1;
  note.textContent = clips.length <= 1 ? 'One clip only: choose the k400 sampling (or more clips) to see the scores over time.' : '';
}

/** Fills the timeline for the threshold; each segment is a button that seeks the player. */
export function showTimeline(segments: readonly TemporalSegment[], duration: number, threshold: number, seek: (t: number) => void): void {
  const timeline = layoutTimeline(segments, duration, threshold);
  const container = byId('timeline');
  const nodes: HTMLElement[] = [];
  for (const row of timeline.rows) {
    nodes.push(el('div', { class: 'track-label', id: `row-${row.label}` }, row.label));
    const track = el('div', { class: 'track', role: 'group', 'aria-labelledby': `row-${row.label}`, 'data-label': row.label });
    for (const p of row.segments) {
      const s = p.segment;
      const b = el('button', {
        type: 'button',
        class: 'segment',
        'aria-label': `${s.label} from ${formatTime(s.start)} to ${formatTime(s.end)}, score ${formatScore(s.score)}`,
        title: `${s.label} ${formatTime(s.start)}–${formatTime(s.end)} (${formatScore(s.score)})`,
        'data-start': String(s.start),
        'data-score': String(s.score),
      });
      b.style.left = `${p.left}%`;
      b.style.width = `${p.width}%`;
      b.style.opacity = String(0.35 + 0.65 * s.score);
      b.addEventListener('click', () => seek(s.start));
      track.appendChild(b);
    }
    nodes.push(track);
  }
  container.replaceChildren(...nodes);
  byId('segment-count').textContent = `${timeline.shown} of ${timeline.total} segments at or above ${threshold.toFixed(2)}`;
}

export function showKeyframes(result: SpatiotemporalResult, seek: (t: number) => void): void {
  byId('keyframes').replaceChildren(
    ...result.keyframes.map((k) => {
      const item = el('li');
      const b = el(
        'button',
        { type: 'button', 'data-time': String(k.time) },
        `${formatTime(k.time)} · ${k.people.length} ${k.people.length === 1 ? 'person' : 'people'}`,
      );
      b.addEventListener('click', () => seek(k.time));
      item.appendChild(b);
      return item;
    }),
  );
}

/** Marks the keyframe shown now in the list. */
export function markKeyframe(shown: Keyframe | undefined): void {
  for (const b of byId('keyframes').querySelectorAll('button'))
    b.setAttribute('aria-current', String(shown !== undefined && Number(b.dataset.time) === shown.time));
}

export const BOX_COLOUR = '#00e5ff';

/**
 * Draws the people of the keyframe nearest to `time` on the canvas, which covers the player; the
 * video shows at `videoWidth` x `videoHeight` inside it with object-fit: contain. Returns that keyframe.
 */
export function drawPeople(
  canvas: HTMLCanvasElement,
  result: SpatiotemporalResult | undefined,
  time: number,
  videoWidth: number,
  videoHeight: number,
): Keyframe | undefined {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const h = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, w, h);
  if (!result) return undefined;
  const keyframe = nearestKeyframe(result.keyframes, time);
  if (!keyframe) return undefined;
  const content = contentRect(w, h, videoWidth, videoHeight);
  const line = Math.max(2, Math.round(2 * ratio));
  ctx.font = `${Math.round(12 * ratio)}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  // Whole pixels: crisp edges, exactly the box colour (no blend with what is under it).
  const rects = keyframe.people.map((person) => {
    const b = scaleBox(person.box, content);
    const x = Math.round(b.x);
    const y = Math.round(b.y);
    return { person, x, y, width: Math.round(b.x + b.width) - x, height: Math.round(b.y + b.height) - y };
  });
  // Captions first, boxes over them: in a crowd a caption never hides another person's box.
  const pad = 2 * ratio;
  const th = 14 * ratio + 2 * pad;
  for (const r of rects) {
    const caption = personCaption(r.person);
    const tw = ctx.measureText(caption).width + 2 * pad;
    const ty = r.y - th - line >= content.y ? r.y - th - line : r.y + line;
    ctx.fillStyle = 'rgba(0, 0, 0, 0.7)';
    ctx.fillRect(r.x, ty, tw, th);
    ctx.fillStyle = '#fff';
    ctx.fillText(caption, r.x + pad, ty + pad);
  }
  ctx.strokeStyle = BOX_COLOUR;
  ctx.lineWidth = line;
  for (const r of rects) ctx.strokeRect(r.x, r.y, r.width, r.height);
  return keyframe;
}
