/**
 * The player and its clock. The page plays the upload (an object URL) or the URL given; when the
 * browser cannot decode it, a Time slider stands in for the player's clock. Whatever the clock
 * says, the overlay canvas shows the people of the nearest keyframe and the caption line says
 * what is under way.
 */
import { byId } from './dom.js';
import { formatTime } from './lib/format.js';
import { segmentsAt } from './lib/timeline.js';
import type { Run } from './run.js';
import { drawPeople, markKeyframe } from './views.js';

export class Player {
  private readonly video = byId<HTMLVideoElement>('video');
  private readonly canvas = byId<HTMLCanvasElement>('overlay');
  private readonly scrub = byId<HTMLInputElement>('scrub');
  private playable = false;
  /** The run whose result is drawn; the temporal threshold comes from `threshold()`. */
  run: Run | undefined;

  constructor(private readonly threshold: () => number) {
    const { video } = this;
    video.addEventListener('loadedmetadata', () => {
      this.playable = true;
      video.controls = true;
      this.setAspect(video.videoWidth, video.videoHeight);
      byId('player-note').hidden = true;
      byId('scrub-field').hidden = true;
      this.redraw();
    });
    video.addEventListener('error', () => {
      if (!video.getAttribute('src')) return;
      this.playable = false;
      // Its controls would only show a player that cannot play (and hide the drawing under them).
      video.controls = false;
      const note = byId('player-note');
      const name = video.dataset.name ?? 'the video';
      note.hidden = false;
      const task = this.run?.task;
      // Only people are drawn on the stage: without a picture it is a blank box for the other tasks.
      if (task !== 'spatiotemporal-detection') byId('stage').hidden = true;
      if (task === 'classification') {
        note.textContent = `This browser cannot play ${name}; the result below does not need it.`;
        return;
      }
      note.textContent =
        task === 'temporal-detection'
          ? `This browser cannot play ${name}; move through the result with the Time slider or the timeline.`
          : `This browser cannot play ${name}; the people are drawn over a blank frame of its size: move through it with the Time slider or the keyframes.`;
      byId('scrub-field').hidden = false;
      this.redraw();
    });
    const animate = (): void => {
      this.redraw();
      if (!video.paused && !video.ended) requestAnimationFrame(animate);
    };
    video.addEventListener('play', () => requestAnimationFrame(animate));
    video.addEventListener('seeked', () => this.redraw());
    video.addEventListener('timeupdate', () => this.redraw());
    this.scrub.addEventListener('input', () => this.redraw());
    new ResizeObserver(() => this.redraw()).observe(this.canvas);
  }

  /** Plays `source` (named `name` in messages) from its start. */
  load(source: string, name: string): void {
    this.playable = false;
    byId('player-note').hidden = true;
    byId('scrub-field').hidden = true;
    byId('stage').hidden = false;
    byId('stage').style.aspectRatio = '16 / 9';
    this.video.removeAttribute('src');
    this.video.load();
    this.video.dataset.name = name;
    this.video.src = source;
    byId('viewer').hidden = false;
  }

  /** Sizes the stage and the Time slider for a result's video (when the player could not). */
  fitTo(info: { width: number; height: number; durationSec: number }): void {
    if (!this.playable) this.setAspect(info.width, info.height);
    this.scrub.max = String(info.durationSec);
  }

  now(): number {
    return this.playable ? this.video.currentTime : Number(this.scrub.value);
  }

  seek(time: number): void {
    if (this.playable) this.video.currentTime = time;
    this.scrub.value = String(time);
    this.redraw();
  }

  redraw(): void {
    const t = this.now();
    const run = this.run;
    const st = run?.spatiotemporal;
    const info = run?.temporal?.video ?? st?.video ?? run?.classification?.video;
    const shown = drawPeople(this.canvas, st, t, this.video.videoWidth || info?.width || 16, this.video.videoHeight || info?.height || 9);
    if (st) markKeyframe(shown);
    let caption = `At ${formatTime(t)}`;
    if (st && shown)
      caption += `: keyframe ${formatTime(shown.time)}, ${shown.people.length} ${shown.people.length === 1 ? 'person' : 'people'}`;
    if (run?.temporal) {
      const under = segmentsAt(run.temporal.segments, t, this.threshold()).slice(0, 3);
      caption += under.length ? `: ${under.map((s) => s.label).join(', ')}` : ': no segment';
    }
    // A classification has nothing at a moment to tell.
    byId('now').textContent = run?.task === 'classification' ? '' : caption;
  }

  private setAspect(width: number, height: number): void {
    if (width > 0 && height > 0) byId('stage').style.aspectRatio = `${width} / ${height}`;
  }
}
