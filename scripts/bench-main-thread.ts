/**
 * The benches' view of the page's main thread during a run: the longtask observer's entries, the waits
 * between two frames (which also see what that observer misses), the long animation frames with the
 * scripts that ran in them, and a CPU profile.
 */
import fs from 'node:fs';
import type { Page } from 'playwright-core';

/**
 * Init script: the longest wait between two frames, in `window.__frames`. It also sees what the
 * longtask observer does not (script in a microtask checkpoint after one of the browser's own messages,
 * such as a file read's answer). A string, as a function would reach the page with the bundler's helpers.
 */
export const FRAME_WATCH = `{
  const f = (window.__frames = { longestMs: 0, at: 0, last: 0, from: 0, gaps: [] });
  const frame = (now) => {
    if (f.last && now - f.last > f.longestMs) {
      f.longestMs = now - f.last;
      f.at = f.last;
    }
    if (f.last && now - f.last >= 50 && f.gaps.length < 500) f.gaps.push([f.last, now - f.last]);
    f.last = now;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}`;

export interface FrameGap {
  longestMs: number;
  /** When the longest wait began (page time). */
  at: number;
  last: number;
  /** When counting began: the last `restartFrameWatch`. */
  from: number;
  /** Each wait of 50 ms or more: when it began (page time) and how long (the first 500). */
  gaps: [number, number][];
}

export interface LongTask {
  atMs: number;
  ms: number;
  /** The scripts of the long animation frame that held the task (invoker, function, file, their ms). */
  scripts: string[];
  /**
   * A long animation frame's own: the ms of its scripts in all, of its rendering (from `renderStart`: animation
   * frame callbacks, style, layout, paint) and of style and layout alone (from `styleAndLayoutStart`).
   */
  parts?: { scriptMs: number; renderMs: number; layoutMs: number };
}

/** Long tasks, and long animation frames for what ran in them (the longtask entry names no script). */
export const LONG_TASKS = () => {
  const w = window as unknown as { __longTasks: LongTask[]; __loaf: LongTask[] };
  w.__longTasks = [];
  w.__loaf = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.__longTasks.push({ atMs: e.startTime, ms: e.duration, scripts: [] });
  }).observe({ type: 'longtask', buffered: true });
  type Loaf = PerformanceEntry & {
    scripts: { invoker: string; sourceFunctionName: string; sourceURL: string; duration: number }[];
    renderStart: number;
    styleAndLayoutStart: number;
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries() as Loaf[]) {
      const end = e.startTime + e.duration;
      w.__loaf.push({
        atMs: e.startTime,
        ms: e.duration,
        scripts: e.scripts.map(
          (x) => `${x.invoker} ${x.sourceFunctionName}@${x.sourceURL.split('/').pop()} ${Math.round(x.duration)} ms`,
        ),
        parts: {
          scriptMs: Math.round(e.scripts.reduce((t, x) => t + x.duration, 0)),
          renderMs: Math.round(e.renderStart > 0 ? end - e.renderStart : 0),
          layoutMs: Math.round(e.styleAndLayoutStart > 0 ? end - e.styleAndLayoutStart : 0),
        },
      });
    }
  }).observe({ type: 'long-animation-frame', buffered: true });
};

/** Each long task with its time made relative to `t0` and the scripts of the animation frame that held it. */
export function placeLongTasks(tasks: LongTask[], frames: LongTask[], t0: number): LongTask[] {
  return tasks.map((t) => {
    const f = frames.find((x) => x.atMs <= t.atMs + 1 && t.atMs + t.ms <= x.atMs + x.ms + 1);
    return { atMs: Math.round(t.atMs - t0), ms: Math.round(t.ms), scripts: f?.scripts ?? [] };
  });
}

/**
 * Each wait for a frame (`longFrameGaps`) relative to `t0`, with the long animation frames over it: how their
 * time split between scripts, rendering and style and layout, and their scripts. A wait with no long animation
 * frame over it had no main-thread work of 50 ms in one frame: the frame came late from elsewhere.
 */
export function placeFrameGaps(gaps: { at: number; ms: number }[], frames: LongTask[], t0: number): LongTask[] {
  const frame = (f: LongTask) =>
    `frame of ${Math.round(f.ms)} ms` +
    (f.parts
      ? ` (scripts ${f.parts.scriptMs} ms, rendering ${f.parts.renderMs} ms, of it style and layout ${f.parts.layoutMs} ms)`
      : '');
  return gaps.map((g) => ({
    atMs: Math.round(g.at - t0),
    ms: Math.round(g.ms),
    scripts: frames
      .filter((f) => f.atMs < g.at + g.ms && f.atMs + f.ms > g.at)
      .flatMap((f) => [frame(f), ...f.scripts]),
  }));
}

/** Waits for a frame are counted from here (`FRAME_WATCH` must be in the page). */
export async function restartFrameWatch(page: Page): Promise<void> {
  await page.evaluate(() => {
    const f = (window as unknown as { __frames: FrameGap }).__frames;
    f.longestMs = 0;
    f.gaps.length = 0;
    f.at = f.from = f.last = performance.now();
  });
}

/** Each wait for a frame of 50 ms or more since `restartFrameWatch`: when it began (page time) and how long. */
export async function longFrameGaps(page: Page): Promise<{ at: number; ms: number }[]> {
  return page.evaluate(() =>
    (window as unknown as { __frames: FrameGap }).__frames.gaps.map(([at, ms]) => ({ at, ms })),
  );
}

/** Long tasks and waits for a frame are counted from here: the run itself, not page start-up or the folder intake. */
export async function resetLongTasks(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 100)));
    const w = window as unknown as { __longTasks: LongTask[]; __loaf: LongTask[] };
    w.__longTasks.length = 0;
    w.__loaf.length = 0;
  });
  await restartFrameWatch(page);
}

/**
 * Since `resetLongTasks` (`LONG_TASKS` and `FRAME_WATCH` in the page): the long tasks and the waits for a
 * frame of 50 ms or more, each with the scripts of the long animation frames over it; ms after the reset.
 */
export async function mainThreadSinceReset(page: Page): Promise<{ tasks: LongTask[]; gaps: LongTask[] }> {
  const { tasks, frames, gaps, from } = await page.evaluate(() => {
    const w = window as unknown as { __longTasks: LongTask[]; __loaf: LongTask[]; __frames: FrameGap };
    return { tasks: w.__longTasks, frames: w.__loaf, gaps: w.__frames.gaps, from: w.__frames.from };
  });
  const g = gaps.map(([at, ms]) => ({ at, ms }));
  return { tasks: placeLongTasks(tasks, frames, from), gaps: placeFrameGaps(g, frames, from) };
}

/** The longest wait between two frames since `restartFrameWatch`, and when it began (ms after that). */
export async function longestFrameGap(page: Page): Promise<{ ms: number; atMs: number }> {
  return page.evaluate(() => {
    const f = (window as unknown as { __frames: FrameGap }).__frames;
    const now = performance.now();
    if (now - f.last > f.longestMs) return { ms: now - f.last, atMs: f.last - f.from };
    return { ms: f.longestMs, atMs: f.at - f.from };
  });
}

/**
 * `--cpu-profile`: the page's main thread sampled every 1 ms until `stop`, which writes a `.cpuprofile`
 * (Chrome DevTools' Performance panel opens it).
 */
export async function startCpuProfile(page: Page): Promise<{ stop: (file: string) => Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 1000 });
  await cdp.send('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await cdp.send('Profiler.stop');
      await cdp.detach();
      fs.writeFileSync(file, JSON.stringify(profile));
      console.log(`main thread's CPU profile → ${file}`);
    },
  };
}
