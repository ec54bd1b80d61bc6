/** Numbers as the page writes them: times, durations, scores. */

/**
 * Seconds as m:ss.s (h:mm:ss.s past an hour).
 *
 * @example
 * formatTime(75.25) // '1:15.3'
 */
export function formatTime(seconds: number): string {
  const s = Math.max(0, seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = (s % 60).toFixed(1).padStart(4, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/**
 * An estimate of seconds left, rounded as people say it.
 *
 * @example
 * formatEta(3.2) // 'about 4 s left'
 * formatEta(125) // 'about 2 min 5 s left'
 */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `about ${s} s left`;
  return `about ${Math.floor(s / 60)} min ${s % 60} s left`;
}

/** @example formatScore(0.41234) // '0.412' */
export function formatScore(score: number): string {
  return score.toFixed(3);
}

/** @example formatPercent(0.256) // '26 %' */
export function formatPercent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)} %`;
}
