/**
 * The benches' view of the browser's processes (Linux /proc): the process tree under the browser, its
 * memory (RSS, PSS, PSS by Chromium process kind) sampled every 250 ms, and the CPU time each kind used.
 */
import { execSync } from 'node:child_process';
import fs from 'node:fs';

/** Every process under `pid` (itself included), from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * Memory of a process and all its descendants, bytes (Linux /proc): `rss` sums each process's
 * resident set (pages shared between Chromium's processes count once per process), `pss` shares
 * them out (each shared page split between its sharers) — the browser's real footprint. `withRoot: false`
 * leaves `pid` itself out (the bench's own Node process, which serves the app).
 */
export function treeMemory(pid: number, withRoot = true): { rss: number; pss: number; byKind: Record<string, number> } {
  let rss = 0;
  let pss = 0;
  const byKind: Record<string, number> = {};
  for (const p of processTree(pid)) {
    if (p === pid && !withRoot) continue;
    try {
      const roll = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      const one = Number(/^Pss:\s+(\d+) kB/m.exec(roll)?.[1] ?? 0) * 1024;
      rss += Number(/^Rss:\s+(\d+) kB/m.exec(roll)?.[1] ?? 0) * 1024;
      pss += one;
      const kind = processKind(p);
      byKind[kind] = (byKind[kind] ?? 0) + one;
    } catch {
      // gone meanwhile
    }
  }
  return { rss, pss, byKind };
}

/** Chromium's process kind (--type=renderer, gpu-process, utility…; none for the browser process). */
function processKind(pid: number): string {
  return /--type=([\w-]+)/.exec(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1] ?? 'browser';
}

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = (() => {
  try {
    return Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) of each process under `pid`, itself included, s. */
function treeCpu(pid: number): Map<number, { kind: string; s: number }> {
  const out = new Map<number, { kind: string; s: number }>();
  for (const p of processTree(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of /proc/PID/stat (utime, stime), counted from the state (field 3).
      out.set(p, { kind: processKind(p), s: (Number(f[11]) + Number(f[12])) / CLOCK_TICKS });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface MemoryWatch {
  peakRss: number;
  peakPss: number;
  /** PSS by Chromium process kind at the PSS peak, bytes. */
  peakByKind: Record<string, number>;
  /** When the PSS peak came, ms after the watch began. */
  peakAtMs: number;
  /** [ms since start, pss bytes] every sample. */
  samples: [number, number][];
  /**
   * CPU seconds each Chromium process kind used while watched (processes that ended before the watch did
   * are not counted): what the page's work cost beyond its wall time, e.g. GPU work left running.
   */
  cpuSecondsByKind: Record<string, number>;
}

/** Samples `treeMemory(pid)` every 250 ms until stopped. */
export function watchMemory(pid: number): () => MemoryWatch {
  const w: MemoryWatch = { peakRss: 0, peakPss: 0, peakByKind: {}, peakAtMs: 0, samples: [], cpuSecondsByKind: {} };
  const t0 = Date.now();
  const cpu0 = treeCpu(pid);
  const sample = () => {
    const m = treeMemory(pid);
    w.peakRss = Math.max(w.peakRss, m.rss);
    if (m.pss > w.peakPss) [w.peakByKind, w.peakAtMs] = [m.byKind, Date.now() - t0];
    w.peakPss = Math.max(w.peakPss, m.pss);
    w.samples.push([Date.now() - t0, m.pss]);
  };
  sample();
  const timer = setInterval(sample, 250);
  return () => {
    clearInterval(timer);
    sample();
    for (const [p, { kind, s }] of treeCpu(pid)) {
      const used = s - (cpu0.get(p)?.s ?? 0);
      w.cpuSecondsByKind[kind] = Math.round(((w.cpuSecondsByKind[kind] ?? 0) + used) * 10) / 10;
    }
    return w;
  };
}

/**
 * Growth across the run: mean footprint (PSS) of the last quarter of the samples minus that of the
 * second quarter (after the first batches have sized the runtime's buffers), MB.
 */
export function growthMB(w: MemoryWatch): number {
  const mean = (a: number, b: number) => {
    const xs = part(w, a, b);
    return xs.reduce((s, x) => s + x[1], 0) / xs.length;
  };
  return Math.round((mean(0.75, 1) - mean(0.25, 0.5)) / 2 ** 20);
}

/** The samples from fraction `a` to `b` of the run (at least one). */
export function part(w: MemoryWatch, a: number, b: number): [number, number][] {
  const n = w.samples.length;
  return w.samples.slice(Math.floor(a * n), Math.max(Math.floor(a * n) + 1, Math.floor(b * n)));
}

export const MB = (b: number) => Math.round(b / 2 ** 20);

/** PSS by process kind, as printed: `browser 129, renderer 786, …`. */
export const kinds = (byKind: Record<string, number>) =>
  Object.entries(byKind)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

/** When the PSS peak came (s after the start) and the highest PSS of each tenth of the run (MB). */
export function peakPlace(w: MemoryWatch): { peakAtS: number; pssByTenthMB: number[] } {
  const peak = w.samples.reduce((a, b) => (b[1] > a[1] ? b : a), [0, 0]);
  const tenths = Array.from({ length: 10 }, (_, k) => MB(Math.max(...part(w, k / 10, (k + 1) / 10).map((x) => x[1]))));
  return { peakAtS: Math.round(peak[0] / 100) / 10, pssByTenthMB: tenths };
}
