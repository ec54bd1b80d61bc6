/**
 * Renders the frames of one synthetic clip: a textured shape over a textured background, whose
 * class is defined only by how it moves or changes over time. Colours, textures, shapes, sizes,
 * positions and speeds are random, so a single frame cannot tell the class.
 */
import { randomInt, type Uniform } from '../weights/random-init.js';

export const SYNTHETIC_CLASSES = [
  'moving_left',
  'moving_right',
  'moving_up',
  'moving_down',
  'rotating_clockwise',
  'rotating_counterclockwise',
  'growing',
  'shrinking',
  'appearing',
  'disappearing',
  'still',
] as const;
export type SyntheticClass = (typeof SYNTHETIC_CLASSES)[number];

export interface RenderSize {
  readonly width: number;
  readonly height: number;
  readonly frames: number;
}

type Rgb = [number, number, number];

interface Texture {
  readonly kind: 'flat' | 'stripes' | 'checker' | 'noise' | 'halves';
  readonly a: Rgb;
  readonly b: Rgb;
  readonly period: number;
  readonly angle: number;
}

function randomColour(uniform: Uniform): Rgb {
  return [randomInt(uniform, 256), randomInt(uniform, 256), randomInt(uniform, 256)];
}

function distance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/**
 * A random two-colour texture. `contrast` pulls the second colour toward the first (backgrounds
 * are textured but quieter than the object); `avoid` keeps the main colour away from another.
 */
function randomTexture(uniform: Uniform, kinds: Texture['kind'][], contrast: number, avoid?: Rgb): Texture {
  let a = randomColour(uniform);
  while (avoid && distance(a, avoid) < 150) a = randomColour(uniform);
  let other = randomColour(uniform);
  while (distance(a, other) < 100) other = randomColour(uniform);
  const b: Rgb = [a[0] + (other[0] - a[0]) * contrast, a[1] + (other[1] - a[1]) * contrast, a[2] + (other[2] - a[2]) * contrast];
  return { kind: kinds[randomInt(uniform, kinds.length)]!, a, b, period: 5 + randomInt(uniform, 8), angle: uniform() * Math.PI };
}

/** Colour of a texture at (u, v) (pixels, in the texture's own frame); `hash` seeds the noise. */
function sample(t: Texture, u: number, v: number, hash: number): Rgb {
  switch (t.kind) {
    case 'flat':
      return t.a;
    case 'stripes': {
      const s = u * Math.cos(t.angle) + v * Math.sin(t.angle);
      return Math.floor(s / t.period) % 2 === 0 ? t.a : t.b;
    }
    case 'checker':
      return (Math.floor(u / t.period) + Math.floor(v / t.period)) % 2 === 0 ? t.a : t.b;
    case 'noise': {
      const k = ((hash * 2654435761) >>> 24) / 255;
      return [t.a[0] * (1 - k) + t.b[0] * k, t.a[1] * (1 - k) + t.b[1] * k, t.a[2] * (1 - k) + t.b[2] * k];
    }
    case 'halves':
      return v < 0 ? t.a : t.b;
  }
}

type Shape = 'circle' | 'square' | 'triangle' | 'diamond';
const SHAPES: Shape[] = ['circle', 'square', 'triangle', 'diamond'];

function inside(shape: Shape, u: number, v: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= r * r;
    case 'square':
      return Math.abs(u) <= r * 0.85 && Math.abs(v) <= r * 0.85;
    case 'diamond':
      return Math.abs(u) + Math.abs(v) <= r * 1.1;
    case 'triangle':
      return v <= r * 0.8 && v >= -r && Math.abs(u) <= (v + r) * 0.6;
  }
}

interface Motion {
  centre(f: number): [number, number];
  angle(f: number): number;
  scale(f: number): number;
  visible(f: number): boolean;
}

function motionFor(label: SyntheticClass, size: RenderSize, radius: number, uniform: Uniform): Motion {
  const { width: w, height: h, frames } = size;
  const at = (f: number): number => f / Math.max(1, frames - 1);
  const margin = radius + 2;
  const free = (lo: number, hi: number): number => lo + uniform() * Math.max(0, hi - lo);
  const travel = Math.min(w, h) * (0.35 + 0.15 * uniform());
  const angle0 = uniform() * 2 * Math.PI;
  let cx = free(margin, w - margin);
  let cy = free(margin, h - margin);
  let dx = 0;
  let dy = 0;
  if (label === 'moving_left' || label === 'moving_right') {
    cx = free(margin + travel / 2, w - margin - travel / 2);
    dx = label === 'moving_right' ? travel : -travel;
  } else if (label === 'moving_up' || label === 'moving_down') {
    cy = free(margin + travel / 2, h - margin - travel / 2);
    dy = label === 'moving_down' ? travel : -travel;
  }
  const turn = (0.75 + 0.5 * uniform()) * Math.PI * (label === 'rotating_clockwise' ? 1 : label === 'rotating_counterclockwise' ? -1 : 0);
  const small = 0.4 + 0.15 * uniform();
  const [s0, s1] = label === 'growing' ? [small, 1.2] : label === 'shrinking' ? [1.2, small] : [1, 1];
  const switchAt = 0.3 + 0.4 * uniform();
  return {
    centre: (f) => [cx + dx * (at(f) - 0.5), cy + dy * (at(f) - 0.5)],
    // Image y points down, so a positive angle turns clockwise on screen.
    angle: (f) => angle0 + turn * at(f),
    scale: (f) => s0 + (s1 - s0) * at(f),
    visible: (f) => (label === 'appearing' ? at(f) >= switchAt : label === 'disappearing' ? at(f) < switchAt : true),
  };
}

/** One action instance of a timeline: frames [start, end) do `label`; the object rests otherwise. */
export interface TimelineEvent {
  readonly label: TimelineClass;
  readonly start: number;
  readonly end: number;
}

/** The classes a continuous scene can perform one after another. */
export const TIMELINE_CLASSES = [
  'moving_left',
  'moving_right',
  'moving_up',
  'moving_down',
  'growing',
  'shrinking',
  'rotating_clockwise',
] as const;
export type TimelineClass = (typeof TIMELINE_CLASSES)[number];

/**
 * A long untrimmed scene: one background and one object for the whole video; the object rests
 * (only sensor grain changes) except during the instances `plan` chooses, each a motion the
 * object can still make from where it is (it never leaves the frame, never shrinks to nothing).
 * Returns the frames and the instances, in frames.
 */
export function renderSyntheticTimeline(
  size: RenderSize,
  uniform: Uniform,
  plan: { minGap: number; maxGap: number; minLength: number; maxLength: number; classes: readonly TimelineClass[] },
): { frames: Uint8Array[]; events: TimelineEvent[] } {
  const { width: w, height: h, frames: count } = size;
  const background = randomTexture(uniform, ['flat', 'stripes', 'checker', 'noise'], 0.12);
  const object = randomTexture(uniform, ['halves', 'stripes', 'checker'], 1, background.a);
  const shape = SHAPES[randomInt(uniform, SHAPES.length)]!;
  const radius = Math.min(w, h) * (0.16 + 0.06 * uniform());
  const grain = 3 + 4 * uniform();
  const margin = radius * 1.4 + 2;
  let state = {
    cx: margin + uniform() * (w - 2 * margin),
    cy: margin + uniform() * (h - 2 * margin),
    angle: uniform() * 2 * Math.PI,
    scale: 0.75 + 0.3 * uniform(),
  };
  // The state at every frame, and the instances.
  const states: Array<typeof state> = [];
  const events: TimelineEvent[] = [];
  let f = 0;
  const pause = (length: number) => {
    for (let i = 0; i < length && f < count; i++, f++) states.push({ ...state });
  };
  pause(plan.minGap + randomInt(uniform, plan.maxGap - plan.minGap + 1));
  while (f + plan.minLength < count) {
    const length = Math.min(count - f, plan.minLength + randomInt(uniform, plan.maxLength - plan.minLength + 1));
    // How far each motion can go from here: pixels for moves; for size, whether a 1.4x change fits in [0.55, 1.4].
    const side = Math.min(w, h);
    const room: Record<TimelineClass, number> = {
      moving_left: state.cx - margin,
      moving_right: w - margin - state.cx,
      moving_up: state.cy - margin,
      moving_down: h - margin - state.cy,
      growing: state.scale * 1.4 <= 1.4 + 1e-9 ? side : 0,
      shrinking: state.scale / 1.4 >= 0.55 - 1e-9 ? side : 0,
      rotating_clockwise: side,
    };
    const feasible = plan.classes.filter((c) => room[c] >= side * 0.15);
    if (feasible.length === 0) break;
    const label = feasible[randomInt(uniform, feasible.length)]!;
    const from = { ...state };
    const travel = Math.min(room[label], Math.min(w, h) * (0.25 + 0.2 * uniform()));
    const target = { ...state };
    if (label === 'moving_left') target.cx -= travel;
    else if (label === 'moving_right') target.cx += travel;
    else if (label === 'moving_up') target.cy -= travel;
    else if (label === 'moving_down') target.cy += travel;
    else if (label === 'growing') target.scale = state.scale * 1.4;
    else if (label === 'shrinking') target.scale = state.scale / 1.4;
    else target.angle += (0.75 + 0.5 * uniform()) * Math.PI;
    events.push({ label, start: f, end: f + length });
    for (let i = 0; i < length; i++, f++) {
      const a = (i + 1) / length;
      states.push({
        cx: from.cx + (target.cx - from.cx) * a,
        cy: from.cy + (target.cy - from.cy) * a,
        angle: from.angle + (target.angle - from.angle) * a,
        scale: from.scale + (target.scale - from.scale) * a,
      });
    }
    state = target;
    pause(plan.minGap + randomInt(uniform, plan.maxGap - plan.minGap + 1));
  }
  pause(count - f);
  const base = paintBackground(background, w, h);
  const frames = states.map((s) => {
    const frame = base.slice();
    drawObject(frame, w, h, shape, object, radius, s);
    addGrain(frame, grain, uniform);
    return frame;
  });
  return { frames, events };
}

/** The background's pixels, drawn once per video. */
function paintBackground(background: Texture, w: number, h: number): Uint8Array {
  const base = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) base.set(sample(background, x, y, y * w + x + 1).map(Math.round), (y * w + x) * 3);
  return base;
}

/** Draws the textured shape at its centre, angle and scale (the texture scales with it). */
function drawObject(
  frame: Uint8Array,
  w: number,
  h: number,
  shape: Shape,
  texture: Texture,
  radius: number,
  s: { cx: number; cy: number; angle: number; scale: number },
): void {
  const r = radius * s.scale;
  const cos = Math.cos(s.angle);
  const sin = Math.sin(s.angle);
  const reach = Math.ceil(r * 1.5);
  for (let y = Math.max(0, Math.floor(s.cy - reach)); y < Math.min(h, Math.ceil(s.cy + reach)); y++) {
    for (let x = Math.max(0, Math.floor(s.cx - reach)); x < Math.min(w, Math.ceil(s.cx + reach)); x++) {
      const u = cos * (x - s.cx) + sin * (y - s.cy);
      const v = -sin * (x - s.cx) + cos * (y - s.cy);
      if (inside(shape, u, v, r)) frame.set(sample(texture, u / s.scale, v / s.scale, 0).map(Math.round), (y * w + x) * 3);
    }
  }
}

/** Sensor grain that changes every frame, so "still" is not "identical frames". */
function addGrain(frame: Uint8Array, grain: number, uniform: Uniform): void {
  for (let i = 0; i < frame.length; i++) frame[i] = Math.max(0, Math.min(255, frame[i]! + Math.round((uniform() - 0.5) * grain)));
}

/** RGB24 frames of one clip of `label`, fully determined by `uniform`. */
export function renderSyntheticClip(label: SyntheticClass, size: RenderSize, uniform: Uniform): Uint8Array[] {
  const { width: w, height: h } = size;
  const background = randomTexture(uniform, ['flat', 'stripes', 'checker', 'noise'], 0.12);
  const object = randomTexture(uniform, ['halves', 'stripes', 'checker'], 1, background.a);
  const shape = SHAPES[randomInt(uniform, SHAPES.length)]!;
  const radius = Math.min(w, h) * (0.18 + 0.08 * uniform());
  const motion = motionFor(label, size, radius, uniform);
  const grain = 3 + 4 * uniform();
  const base = paintBackground(background, w, h);
  const frames: Uint8Array[] = [];
  for (let f = 0; f < size.frames; f++) {
    const frame = base.slice();
    if (motion.visible(f)) {
      const [cx, cy] = motion.centre(f);
      drawObject(frame, w, h, shape, object, radius, { cx, cy, angle: motion.angle(f), scale: motion.scale(f) });
    }
    addGrain(frame, grain, uniform);
    frames.push(frame);
  }
  return frames;
}

/** The classes an actor of a spatiotemporal scene has at a keyframe: its motions, or `still`. */
export const ACTOR_CLASSES = [
  'moving_left',
  'moving_right',
  'moving_up',
  'moving_down',
  'growing',
  'shrinking',
  'rotating_clockwise',
  'still',
] as const;
export type ActorClass = (typeof ACTOR_CLASSES)[number];

export interface ActorKeyframe {
  readonly actor: number;
  /** Normalized [x1, y1, x2, y2] around the actor. */
  readonly box: [number, number, number, number];
  readonly labels: ActorClass[];
}

/**
 * Several actors in one scene, each with its own shape and texture and its own timeline: rests,
 * and motions that may combine a move with a change of size or a turn (so an actor can do two
 * things at once, as AVA people do). Returns the frames and, for each keyframe (every `fps`
 * frames from frame `fps`), every actor's box and labels.
 */
export function renderSyntheticActors(
  size: RenderSize,
  fps: number,
  actors: number,
  uniform: Uniform,
): { frames: Uint8Array[]; keyframes: Array<{ frame: number; people: ActorKeyframe[] }> } {
  const { width: w, height: h, frames: count } = size;
  const side = Math.min(w, h);
  const background = randomTexture(uniform, ['flat', 'stripes', 'checker', 'noise'], 0.12);
  const grain = 3 + 4 * uniform();
  type State = { cx: number; cy: number; angle: number; scale: number; labels: ActorClass[] };
  const tracks: Array<{ shape: Shape; texture: Texture; radius: number; states: State[] }> = [];
  for (let a = 0; a < actors; a++) {
    const shape = SHAPES[randomInt(uniform, SHAPES.length)]!;
    const texture = randomTexture(uniform, ['halves', 'stripes', 'checker'], 1, background.a);
    const radius = side * (0.1 + 0.04 * uniform());
    const margin = radius * 1.45 + 2;
    // Each actor starts in its own vertical band, so actors rarely start on top of each other.
    const band = [(a / actors) * w, ((a + 1) / actors) * w] as const;
    let s: State = {
      cx: Math.min(Math.max(band[0] + margin, (band[0] + band[1]) / 2), band[1] - margin),
      cy: margin + uniform() * (h - 2 * margin),
      angle: uniform() * 2 * Math.PI,
      scale: 0.8 + 0.2 * uniform(),
      labels: ['still'],
    };
    const states: State[] = [];
    let f = 0;
    while (f < count) {
      const rest = Math.round(fps * (1 + 2 * uniform()));
      for (let i = 0; i < rest && f < count; i++, f++) states.push({ ...s, labels: ['still'] });
      const length = Math.round(fps * (1.5 + 2 * uniform()));
      const moves = (['moving_left', 'moving_right', 'moving_up', 'moving_down'] as const).filter((m) => {
        const room =
          m === 'moving_left'
            ? s.cx - margin
            : m === 'moving_right'
              ? w - margin - s.cx
              : m === 'moving_up'
                ? s.cy - margin
                : h - margin - s.cy;
        return room >= side * 0.12;
      });
      const changes = (['growing', 'shrinking', 'rotating_clockwise'] as const).filter((c) =>
        c === 'growing' ? s.scale <= 1.0 : c === 'shrinking' ? s.scale >= 0.8 : true,
      );
      const labels: ActorClass[] = [];
      const useMove = moves.length > 0 && uniform() < 0.7;
      if (useMove) labels.push(moves[randomInt(uniform, moves.length)]!);
      if (!useMove || uniform() < 0.35) labels.push(changes[randomInt(uniform, changes.length)]!);
      const target = { ...s };
      for (const label of labels) {
        const travel = side * (0.12 + 0.1 * uniform());
        if (label === 'moving_left') target.cx = Math.max(s.cx - travel, margin);
        else if (label === 'moving_right') target.cx = Math.min(s.cx + travel, w - margin);
        else if (label === 'moving_up') target.cy = Math.max(s.cy - travel, margin);
        else if (label === 'moving_down') target.cy = Math.min(s.cy + travel, h - margin);
        else if (label === 'growing') target.scale = s.scale * 1.4;
        else if (label === 'shrinking') target.scale = s.scale / 1.4;
        else target.angle = s.angle + (0.75 + 0.5 * uniform()) * Math.PI;
      }
      const from = { ...s };
      for (let i = 0; i < length && f < count; i++, f++) {
        const k = (i + 1) / length;
        states.push({
          cx: from.cx + (target.cx - from.cx) * k,
          cy: from.cy + (target.cy - from.cy) * k,
          angle: from.angle + (target.angle - from.angle) * k,
          scale: from.scale + (target.scale - from.scale) * k,
          labels,
        });
      }
      s = { ...target, labels: ['still'] };
    }
    tracks.push({ shape, texture, radius, states });
  }
  const base = paintBackground(background, w, h);
  const frames: Uint8Array[] = [];
  for (let f = 0; f < count; f++) {
    const frame = base.slice();
    for (const t of tracks) drawObject(frame, w, h, t.shape, t.texture, t.radius, t.states[f]!);
    addGrain(frame, grain, uniform);
    frames.push(frame);
  }
  const keyframes: Array<{ frame: number; people: ActorKeyframe[] }> = [];
  for (let f = fps; f < count; f += fps) {
    keyframes.push({
      frame: f,
      people: tracks.map((t, actor) => {
        const s = t.states[f]!;
        const r = t.radius * s.scale * 1.25;
        const box: [number, number, number, number] = [
          Math.max(0, (s.cx - r) / w),
          Math.max(0, (s.cy - r) / h),
          Math.min(1, (s.cx + r) / w),
          Math.min(1, (s.cy + r) / h),
        ];
        return { actor, box, labels: [...s.labels] };
      }),
    });
  }
  return { frames, keyframes };
}
