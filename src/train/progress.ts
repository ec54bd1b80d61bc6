/** Terminal progress (a redrawn bar on a TTY, periodic lines otherwise) and the JSONL metrics log. */
import { appendFileSync, writeFileSync } from 'node:fs';

export interface StepReport {
  readonly stage: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  readonly epochs: number;
  readonly loss: number;
  readonly lr: number;
  readonly stepMs: number;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
}

export class ProgressBar {
  private averageMs = 0;
  private lastLine = 0;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number } = process.stderr) {}

  step(r: StepReport): void {
    this.averageMs = this.averageMs === 0 ? r.stepMs : 0.9 * this.averageMs + 0.1 * r.stepMs;
    const eta = ((r.totalSteps - r.step) * this.averageMs) / 1000;
    const text = `${r.stage} step ${r.step}/${r.totalSteps} epoch ${r.epoch}/${r.epochs} loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(2)} ${(r.stepMs / 1000).toFixed(2)} s/step ETA ${duration(eta)}`;
    if (this.out.isTTY) {
      const width = 20;
      const filled = Math.round((width * r.step) / Math.max(1, r.totalSteps));
      this.out.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`
          .slice(0, (this.out.columns ?? 160) - 1)
          .padEnd(Math.min(159, (this.out.columns ?? 160) - 1)),
      );
      if (r.step === r.totalSteps) this.out.write('\n');
    } else {
      const every = Math.max(1, Math.floor(r.totalSteps / 20));
      const now = Date.now();
      if (r.step === r.totalSteps || r.step % every === 0 || now - this.lastLine > 30_000) {
        this.lastLine = now;
        this.out.write(text + '\n');
      }
    }
  }

  /** Progress of a counted task (videos decoded, written, extracted): redrawn on a TTY, about every 5 % otherwise. */
  count(label: string, done: number, total: number): void {
    const text = `${label} ${done}/${total}`;
    if (this.out.isTTY) {
      this.out.write(`\r${text}`.padEnd(Math.min(80, (this.out.columns ?? 80) - 1)));
      if (done === total) this.out.write('\n');
      return;
    }
    const now = Date.now();
    if (done === total || done % Math.max(1, Math.floor(total / 20)) === 0 || now - this.lastLine > 30_000) {
      this.lastLine = now;
      this.out.write(text + '\n');
    }
  }

  line(text: string): void {
    this.out.write((this.out.isTTY ? '\n' : '') + text + '\n');
  }
}

export class MetricsLog {
  constructor(
    readonly file: string,
    append: boolean,
  ) {
    if (!append) writeFileSync(file, '');
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.file, JSON.stringify({ time: new Date().toISOString(), ...record }) + '\n');
  }
}
