/**
 * `npm run bench:compare`'s browser side: a local Chromium with its own profile and process tree, (a) the app end
 * to end in it, and (c)/(d) in the peers' module worker, each with its memory and main-thread figures.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../tests/helpers/browser';
import { onnxPath, urlSource, type Dtype } from '../src/data/model-files';
import type { PeerTiming } from './bench-peers.worker';
import {
  FRAME_WATCH,
  LONG_TASKS,
  type LongTask,
  longestFrameGap,
  longFrameGaps,
  placeFrameGaps,
  placeLongTasks,
  restartFrameWatch,
} from './bench-main-thread';
import { growthMB, kinds, MB, peakPlace, treeMemory, watchMemory } from './bench-process';
import type { Dataset } from './bench-compare-data';
import '../tests/helpers/zsw';

export interface Measure {
  peer: string;
  dataset: string;
  images: number;
  imagesPerSec: number;
  ms: number;
  inferMs?: number;
  loadMs?: number;
  /** Peak PSS while the model loaded (download or cache read, sessions made), MB. */
  loadPeakPssMB?: number;
  /** The load's PSS peak: s after it began (of `loadMs`), and PSS by Chromium process kind there, MB. */
  loadPeak?: { atS: number; pssByProcessMB: Record<string, number> };
  /** The load's PSS every 250 ms: [s after it began, MB]. */
  loadPssTimeline?: [number, number][];
  /** How the load read each tower's file: split as it was read (`pieces`) or whole (engine/tower-files.ts). */
  loadedFrom?: Record<string, string> | null;
  /** From the load's end to the run's start (the tab, the folder, its hashing): ms, and its longest frame wait. */
  afterLoad?: { ms: number; longestFrameGapMs: number };
  peakRssMB?: number;
  /** Peak proportional set size (shared pages shared out), MB. */
  peakPssMB?: number;
  /** At the PSS peak, PSS by Chromium process kind (browser, renderer, gpu-process, utility…), MB. */
  pssByProcessMB?: Record<string, number>;
  /** CPU seconds each Chromium process kind used during the run, and during the load. */
  cpuSecondsByProcess?: Record<string, number>;
  loadCpuSecondsByProcess?: Record<string, number>;
  /** PSS growth from the second to the last quarter of the run, MB. */
  growthMB?: number;
  /** When the PSS peak came, seconds after the run started. */
  peakAtS?: number;
  /** The highest PSS sampled in each tenth of the run, MB: where the peak stands against the rest. */
  pssByTenthMB?: number[];
  longestTaskMs?: number;
  /**
   * (a): the longest wait between two frames during the run, and when it began (ms into the run). It also sees
   * script that the longtask observer misses (bench-main-thread.ts).
   */
  longestFrameGap?: { ms: number; atMs: number };
  /**
   * (a): every wait for a frame of 50 ms or more during the run (ms into the run, how long), each with the
   * scripts of any long animation frame that overlaps it: none named means no script of the page held it.
   */
  longFrameGaps?: LongTask[];
  /** (a): the first search after the run (encoding the query, the text tower's load on WASM included). */
  /** `loadedFrom`: how the text tower's session read its file (engine/text-tower.ts). */
  firstQuery?: {
    ms: number;
    beforePssMB: number;
    peakPssMB: number;
    afterPssMB: number;
    longestFrameGapMs: number;
    loadedFrom: string[];
  };
  /** Main-thread tasks of 50 ms or more during the run: when (ms after it started), how long, what ran. */
  longTasks?: LongTask[];
  extra?: Record<string, unknown>;
}

/** Chromium processes started by this process (their parent is us), by pid. */
function chromiumChildren(): Set<number> {
  const out = new Set<number>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('chromium'))
        out.add(Number(d));
    } catch {
      /* process ended */
    }
  }
  return out;
}

/**
 * A local Chromium and its process id (memory is summed over its process tree). Launched directly, not
 * through launchServer + connect: a connected client uploads picked files over its socket one by one, and
 * a 10,000-file folder pick never finished that way. A fresh profile on disk, as a user's browser has: a
 * non-persistent context is off the record, and Chromium keeps its Cache Storage in the browser process's
 * memory — 250 MB of B/32 model files counted as this app's footprint (measured: browser process 374 MB
 * PSS after the load, 126 MB without the model cache).
 */
async function launch(): Promise<{ browser: BrowserContext; pid: number; close: () => Promise<void> }> {
  const before = chromiumChildren();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-compare-profile-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const pid = [...chromiumChildren()].find((p) => !before.has(p));
  if (pid === undefined) throw new Error('the Chromium process was not found among this process’s children');
  return {
    browser,
    pid,
    close: async () => {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface OursOptions {
  /** `auto`, `wasm` or `webgpu`: the backend the page's load asks for. */
  backend: string;
  /** The decode pool's size (the page's ?decodeWorkers=N); the app's own when absent. */
  decodeWorkers?: number;
  dtype?: Dtype;
  /** The WebGPU batch size (the page's ?gpuBatch=N); the app's own when absent. */
  gpuBatch?: number;
  /** A returning user: a first page fills the model cache, and the measured page loads from it. */
  modelCached?: boolean;
}

/** (a) The app end to end: folder input → Retrieval run (images only, cache off) on `backend`. */
export async function ours(appUrl: string, modelName: string, d: Dataset, o: OursOptions): Promise<Measure> {
  const { backend, decodeWorkers, dtype = 'fp32', gpuBatch } = o;
  const b = await launch();
  try {
    const source = urlSource(`${appUrl}/models/${modelName}/`, 'server', modelName);
    if (o.modelCached) {
      // A returning user: the model files are in Cache Storage already (a first page loaded them, and
      // is closed with its renderer), so the measured page reads them from the cache, not the network.
      const first = await b.browser.newPage();
      first.setDefaultTimeout(900_000);
      await first.goto(`${appUrl}/?mode=retrieve`, { timeout: 900_000 });
      await first.waitForFunction(() => 'zsw' in window, null, { timeout: 900_000 });
      const ok = await first.evaluate(([s, be, dt]) => window.zsw.engine.load(s, be, dt), [
        source,
        backend,
        dtype,
      ] as const);
      if (!ok) throw new Error('the first load (filling the model cache) failed');
      await first.close();
      // Its renderer's memory goes back lazily: wait until the footprint stops falling (up to 60 s).
      for (let i = 0, last = Infinity; i < 30; i++) {
        await new Promise((r) => setTimeout(r, 2000));
        const now = treeMemory(b.pid).pss;
        if (last - now < 20 * 2 ** 20) break;
        last = now;
      }
    }
    const page = await b.browser.newPage();
    await page.addInitScript(LONG_TASKS);
    await page.addInitScript(FRAME_WATCH);
    const q = (decodeWorkers ? `&decodeWorkers=${decodeWorkers}` : '') + (gpuBatch ? `&gpuBatch=${gpuBatch}` : '');
    // Generous: a cold Vite dev server on a loaded 2-core machine took 90 s to serve the page.
    page.setDefaultTimeout(900_000);
    await page.goto(`${appUrl}/?mode=retrieve${q}`, { timeout: 900_000 });
    await page.waitForFunction(() => 'zsw' in window, null, { timeout: 900_000 });
    const tl = Date.now();
    const stopLoad = watchMemory(b.pid);
    const loaded = await page.evaluate(([s, be, dt]) => window.zsw.engine.load(s, be, dt), [
      source,
      backend,
      dtype,
    ] as const);
    const loadMem = stopLoad();
    if (!loaded) throw new Error(`load failed: ${JSON.stringify(await page.evaluate(() => window.zsw.engine.error))}`);
    const loadMs = Date.now() - tl;
    // From the load's end to the run's start: opening the tab, picking the folder, hashing it. Frames wait
    // on the GPU process, so work a trial left queued there shows here.
    await restartFrameWatch(page);
    const info = await page.evaluate(() => window.zsw.engine.info as unknown as Record<string, unknown>);
    await page.getByTestId('mode-retrieve').click();
    await page.getByTestId('retrieval-folder-input').setInputFiles(d.dir);
    await page.waitForFunction(() => window.zsw.retrieve.dataset !== null);
    await page.waitForFunction(() => window.zsw.retrieve.indexing?.ms != null, null, { timeout: 600_000 });
    const afterLoad = { ms: Date.now() - tl - loadMs, longestFrameGapMs: Math.round((await longestFrameGap(page)).ms) };
    await page.evaluate(() => {
      window.zsw.retrieve.useCache = false;
      const w = window as unknown as { __longTasks: LongTask[]; __loaf: LongTask[] };
      w.__longTasks.length = 0;
      w.__loaf.length = 0;
    });
    await restartFrameWatch(page);
    const stop = watchMemory(b.pid);
    const busy0 = await page.evaluate(() => window.zsw.engine.runtimeMs());
    const t0 = Date.now();
    const [ok, pageT0] = await page.evaluate(() => {
      const at = performance.now();
      return window.zsw.retrieve.start().then((r) => [r, at] as const);
    });
    const wall = Date.now() - t0;
    const mem = stop();
    // Read before anything else asks the page for work (making the results JSON holds a frame by itself).
    const frameGap = await longestFrameGap(page);
    const gaps = await longFrameGaps(page);
    const busy1 = await page.evaluate(() => window.zsw.engine.runtimeMs());
    const visionFile = onnxPath('vision', dtype);
    const modelMs = (busy1[visionFile] ?? 0) - (busy0[visionFile] ?? 0);
    if (!ok) throw new Error(`run failed: ${JSON.stringify(await page.evaluate(() => window.zsw.retrieve.error))}`);
    const res = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as {
      timing: { embed_images_ms: number };
    };
    const longTasks = await page.evaluate(() => {
      const w = window as unknown as { __longTasks: LongTask[]; __loaf: LongTask[] };
      return { tasks: w.__longTasks, frames: w.__loaf };
    });
    const placed = placeLongTasks(longTasks.tasks, longTasks.frames, pageT0);
    const gapsPlaced = placeFrameGaps(gaps, longTasks.frames, pageT0);
    const embedMs = res.timing.embed_images_ms;
    // The first search after the run, as typed in the page: on WASM it makes the text tower's session, which
    // the run did not hold (engine/text-tower.ts). Watched 2 s past its answer, where its PSS is kept too.
    await restartFrameWatch(page);
    const stopQuery = watchMemory(b.pid);
    const tq = Date.now();
    const found = await page.evaluate(() => window.zsw.retrieve.searchText('a photo of a dog in the snow'));
    const queryMs = Date.now() - tq;
    const queryFrameGap = await longestFrameGap(page);
    await new Promise((r) => setTimeout(r, 2000));
    const queryMem = stopQuery();
    if (!found) throw new Error(`search failed: ${await page.evaluate(() => window.zsw.retrieve.searchError)}`);
    const tower = await page.evaluate(() => window.zsw.engine.textTower());
    return {
      peer: 'ours',
      dataset: d.name,
      images: d.files.length,
      imagesPerSec: (d.files.length * 1000) / embedMs,
      ms: embedMs,
      inferMs: modelMs,
      loadMs,
      loadPeakPssMB: MB(loadMem.peakPss),
      loadPeak: {
        atS: Number((loadMem.peakAtMs / 1000).toFixed(1)),
        pssByProcessMB: Object.fromEntries(Object.entries(loadMem.peakByKind).map(([k, v]) => [k, MB(v)])),
      },
      loadPssTimeline: loadMem.samples.map(([ms, pss]) => [Number((ms / 1000).toFixed(2)), MB(pss)]),
      loadCpuSecondsByProcess: loadMem.cpuSecondsByKind,
      loadedFrom: await page.evaluate(() => window.zsw.engine.loadedFrom()),
      afterLoad,
      peakRssMB: MB(mem.peakRss),
      peakPssMB: MB(mem.peakPss),
      pssByProcessMB: Object.fromEntries(Object.entries(mem.peakByKind).map(([k, v]) => [k, MB(v)])),
      cpuSecondsByProcess: mem.cpuSecondsByKind,
      growthMB: growthMB(mem),
      ...peakPlace(mem),
      longestTaskMs: Math.max(0, ...placed.map((t) => t.ms)),
      longTasks: placed,
      longestFrameGap: { ms: Math.round(frameGap.ms), atMs: Math.round(frameGap.atMs) },
      longFrameGaps: gapsPlaced,
      firstQuery: {
        ms: queryMs,
        beforePssMB: MB(queryMem.samples[0]![1]),
        peakPssMB: MB(queryMem.peakPss),
        afterPssMB: MB(queryMem.samples.at(-1)![1]),
        longestFrameGapMs: Math.round(queryFrameGap.ms),
        loadedFrom: tower?.loadedFrom ?? [],
      },
      extra: {
        wall_ms: wall,
        // The runtime's own time in the image model's calls during the run: the rest of embed_images_ms
        // is what the pipeline costs (or the runtime waiting for pixels).
        model_ms: Math.round(modelMs),
        backend: info.backend,
        ort_build: info.backend === 'webgpu' ? info.gpuBuild : 'wasm',
        wasm_threads: (info.probe as { wasmThreads: number }).wasmThreads,
        backend_decision: info.backendDecision,
        decode_workers: decodeWorkers ?? null,
        image_batch: (info.imageBatch as Record<string, number>)[info.backend as string],
        dtype: info.dtype,
      },
    };
  } finally {
    await b.close();
  }
}

/** (c)/(d): one command in the peers' module worker, in a fresh browser (its own memory figure). */
export async function inBrowser<T = PeerTiming>(
  appUrl: string,
  cmd: 'ortweb' | 'transformers' | 'probe',
  args: unknown,
): Promise<T & { peakRssMB: number; peakPssMB: number; growthMB: number; pssByProcessMB: Record<string, number> }> {
  const b = await launch();
  try {
    const page: Page = await b.browser.newPage();
    page.setDefaultTimeout(900_000);
    await page.goto(`${appUrl}/?mode=retrieve`, { timeout: 900_000 });
    const stop = watchMemory(b.pid);
    const r = await page.evaluate(
      ([c, a]) =>
        new Promise<T>((resolve, reject) => {
          const w = new Worker('/scripts/bench-peers.worker.ts', { type: 'module' });
          w.onmessage = (e: MessageEvent<{ result?: T; error?: string }>) =>
            e.data.error ? reject(new Error(e.data.error)) : resolve(e.data.result!);
          w.onerror = (e) => reject(new Error(e.message));
          w.postMessage({ id: 1, cmd: c, args: a });
        }),
      [cmd, args] as const,
    );
    const mem = stop();
    const byProcess = Object.fromEntries(Object.entries(mem.peakByKind).map(([k, v]) => [k, MB(v)]));
    return {
      ...r,
      peakRssMB: MB(mem.peakRss),
      peakPssMB: MB(mem.peakPss),
      growthMB: growthMB(mem),
      ...peakPlace(mem),
      pssByProcessMB: byProcess,
    };
  } finally {
    await b.close();
  }
}

/** A measure as the bench prints it: one line of figures, then a line per long task and per long wait for a frame. */
export function describeMeasure(m: Measure): string[] {
  const s = (n: number) => (n / 1000).toFixed(1);
  const parts = [`${m.peer.padEnd(15)} ${m.dataset.padEnd(18)} ${m.imagesPerSec.toFixed(2).padStart(7)} images/s`];
  const add = (when: unknown, text: () => string) => when !== undefined && when !== null && parts.push(text());
  add(m.inferMs, () => `  model calls ${((m.inferMs! / m.images) | 0).toString().padStart(4)} ms/image`);
  add(m.peakRssMB, () => `  peak RSS ${m.peakRssMB} MB`);
  add(m.peakPssMB, () => `  PSS ${m.peakPssMB} MB (growth ${m.growthMB} MB, peak at ${m.peakAtS} s)`);
  add(m.pssByProcessMB, () => ` [${kinds(m.pssByProcessMB!)}]`);
  add(m.cpuSecondsByProcess, () => ` CPU s [${kinds(m.cpuSecondsByProcess!)}]`);
  add(m.loadPeakPssMB, () => `  load PSS ${m.loadPeakPssMB} MB`);
  add(m.loadPeak, () => ` (${m.loadPeak!.atS} s into ${s(m.loadMs ?? 0)} s) [${kinds(m.loadPeak!.pssByProcessMB)}]`);
  add(m.loadCpuSecondsByProcess, () => ` CPU s [${kinds(m.loadCpuSecondsByProcess!)}]`);
  add(m.afterLoad, () => `, then ${s(m.afterLoad!.ms)} s to the run`);
  add(m.afterLoad, () => ` (longest wait for a frame ${m.afterLoad!.longestFrameGapMs} ms)`);
  add(
    m.loadedFrom,
    () =>
      `, files read as ${Object.entries(m.loadedFrom!)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
  );
  add(m.longestTaskMs, () => `  longest main-thread task ${m.longestTaskMs!.toFixed(0)} ms`);
  add(
    m.longestFrameGap,
    () => `  longest wait for a frame ${m.longestFrameGap!.ms} ms (${s(m.longestFrameGap!.atMs)} s in)`,
  );
  const q = m.firstQuery;
  add(
    q,
    () =>
      `  first query ${q!.ms} ms, PSS ${q!.beforePssMB} MB before, peak ${q!.peakPssMB} MB (${q!.afterPssMB} MB 2 s ` +
      `after), longest wait for a frame ${q!.longestFrameGapMs} ms, text tower read as ${q!.loadedFrom.join(', ') || '–'}`,
  );
  return [
    parts.join(''),
    ...(m.longTasks ?? []).map(
      (t) => `  long task: ${t.ms} ms at ${s(t.atMs)} s into the run; ${t.scripts.join('; ') || 'no script'}`,
    ),
    ...(m.longFrameGaps ?? []).map(
      (t) =>
        `  wait for a frame: ${t.ms} ms at ${s(t.atMs)} s into the run; ` +
        `${t.scripts.join('; ') || 'no long animation frame'}`,
    ),
  ];
}
