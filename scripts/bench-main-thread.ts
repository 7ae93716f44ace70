/**
 * The benches' view of the page's main thread during a run: the longtask observer's entries, and the
 * longest wait between two frames (which also sees what that observer misses).
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
    const w = window as unknown as { __longTasks: number[]; __longTaskAt: number[] };
    w.__longTasks.length = 0;
    w.__longTaskAt.length = 0;
  });
  await restartFrameWatch(page);
}

/** The durations of the long tasks the page's observer saw since `resetLongTasks`. */
export async function pageLongTasks(page: Page): Promise<number[]> {
  return page.evaluate(() => [...(window as unknown as { __longTasks: number[] }).__longTasks]);
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
