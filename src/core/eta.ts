/** Rate and time-left estimates for progress bars, from (done, elapsed) samples. */

export interface Eta {
  /** Items (or bytes) per second over the run so far. */
  ratePerSec: number;
  /** Seconds left at that rate, or null before there is enough to estimate. */
  secondsLeft: number | null;
}

export function estimate(done: number, total: number, elapsedMs: number): Eta {
  if (done <= 0 || elapsedMs <= 0) return { ratePerSec: 0, secondsLeft: null };
  const ratePerSec = (done * 1000) / elapsedMs;
  return { ratePerSec, secondsLeft: Math.max(0, (total - done) / ratePerSec) };
}

/** "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** "1.4 MB", "580 MB", "12 kB" (decimal units, as download sizes are usually shown). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(n < 1e4 ? 1 : 0)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(n < 1e7 ? 1 : 0)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}
