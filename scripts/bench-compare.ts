/**
 * `npm run bench:compare`: this app against what a user would otherwise run, on the same machine, model
 * file and images, in one sitting, alternating per dataset:
 *   (a) ours — the app end to end in headless Chromium on WASM (folder → embeddings, Retrieval tab, no cache);
 *       `--backend webgpu` runs (a), (c) and (d) on WebGPU instead ((b) stays on the CPU), and `--gpu-batch 16,8`
 *       runs (a) once per WebGPU batch size instead of at the app's own (peers `ours-batch16`, …);
 *   (b) native — onnxruntime-node on the CPU, same ONNX file, same preprocessing (sharp decode + our
 *       Pillow-exact resize and normalization), same thread count;
 *   (c) ortweb — onnxruntime-web alone in the same browser (a module worker) on pre-made tensors;
 *   (d) transformersjs — @huggingface/transformers (CLIPVisionModelWithProjection + AutoProcessor, fp32,
 *       WASM) in the same browser on the same files: as a user runs it (onnxruntime-web's default
 *       thread count) and again with ours' thread count (`transformersjs-same-threads`).
 * Also, with `--sections`: `pool` (toy model on the Pets photos with 1, 2 and 4 decode workers, or
 * `--pool-workers`), `auto` (Auto's choice against each forced backend, fresh profile each, on the toy model
 * or `--auto-model`) and `memory` (ours on `--memory-images` CIFAR-10 images, on `--backend`: peak footprint
 * and its growth across batches), `parity` ((c) on the CIFAR-10 subset with each `--dtype`: cosine of each
 * variant's image embeddings to fp32's) and `ep` ((c) with each onnxruntime-web build — default (JSEP),
 * `/webgpu` (native WebGPU EP), `/jspi`, `/wasm` — on WebGPU and WASM, `--ep-model` on `--ep-images` CIFAR-10
 * images; plus whether the browser has JSPI). `--dtype fp32,q8` runs (a), (c) and `memory` once per weight
 * variant, alternating (peers `ours-q8`, `ortweb-q8`, `ours-memory-q8`).
 * (a) and the `pool`, `auto` and `memory` sections drive the production build (`vite build`, served as users get it);
 * `--dev-server` drives the Vite dev server instead (unbundled modules with inline source maps: a bigger main-thread
 * heap). (c) and (d) run in pages of the dev server.
 * Chromium is /usr/bin/chromium or CHROMIUM_PATH, with CHROMIUM_EXTRA_ARGS added to its flags (tests/helpers/browser.ts).
 * Prints a table and writes `--out` JSON with the raw figures and `ratios` (images/s of ours ÷ each peer's;
 * `q8_over_fp32`; `ep.over_default`).
 *
 *   npm run bench:compare -- [--model .cache/b32] [--cifar 200] [--pets 370] [--threads N] [--batch 8]
 *                            [--peers a,b,c,d] [--sections compare,pool,auto,memory,parity,ep] [--rounds 1]
 *                            [--backend wasm|webgpu] [--gpu-batch 16,8] [--pool-workers 1,2,4] [--auto-model DIR]
 *                            [--memory-images 2000] [--model-cached] [--dtype fp32[,q8,…]]
 *                            [--ep-model ../shared/models/toy-clip-cifar10] [--ep-images 48]
 *                            [--ep-bundles default,webgpu,jspi] [--ep-providers webgpu,wasm]
 *                            [--dev-server] [--out .cache/bench-compare.json]
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from '../tests/helpers/browser';
import { startAppServer } from '../tests/helpers/app-server';
import { isBuildFresh } from '../tests/helpers/built-app';
import { DATASETS, MODELS, REPO } from '../tests/helpers/paths';
import { DTYPES, onnxPath, urlSource, type Dtype } from '../src/data/model-files';
import { outputSize, parsePreprocessConfig, preprocessRgb } from '../src/core/preprocess';
import type { OrtBundle, PeerTiming } from './bench-peers.worker';
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
import { cosineStats, epSection, epSummary, jspiBuild, type EpRun, type Probe } from './bench-ort-variants';
import { serveBuiltApp } from './serve-built';
import { growthMB, kinds, MB, peakPlace, treeMemory, watchMemory } from './bench-process';
import '../tests/helpers/zsw';

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string', default: '.cache/b32' },
    cifar: { type: 'string', default: '200' },
    pets: { type: 'string', default: '370' },
    threads: { type: 'string', default: String(os.cpus().length) },
    batch: { type: 'string', default: '8' },
    peers: { type: 'string', default: 'a,b,c,d' },
    sections: { type: 'string', default: 'compare' },
    rounds: { type: 'string', default: '1' },
    'memory-images': { type: 'string', default: '2000' },
    'model-cached': { type: 'boolean', default: false },
    'dev-server': { type: 'boolean', default: false },
    dtype: { type: 'string', default: 'fp32' },
    'ep-model': { type: 'string' },
    'ep-images': { type: 'string', default: '48' },
    'ep-bundles': { type: 'string', default: 'default,webgpu,jspi' },
    'ep-providers': { type: 'string', default: 'webgpu,wasm' },
    backend: { type: 'string', default: 'wasm' },
    'pool-workers': { type: 'string', default: '1,2,4' },
    'auto-model': { type: 'string' },
    'gpu-batch': { type: 'string' },
    out: { type: 'string', default: '.cache/bench-compare.json' },
  },
});

const modelDir = path.resolve(opts.model!);
if (!fs.existsSync(path.join(modelDir, 'onnx/vision_model.onnx'))) {
  console.error(
    `bench:compare: ${modelDir}/onnx/vision_model.onnx is missing (make it: ../shared/tools/make-clip-model.sh ${opts.model} b32)`,
  );
  process.exit(2);
}
if (opts.backend !== 'wasm' && opts.backend !== 'webgpu') {
  console.error(`bench:compare: --backend ${opts.backend} is not wasm or webgpu`);
  process.exit(2);
}
/** Where (a), (c) and (d) of the compare section run. */
const backend = opts.backend as 'wasm' | 'webgpu';
const threads = Number(opts.threads);
const batch = Number(opts.batch);
const peers = new Set(opts.peers!.split(','));
const sections = new Set(opts.sections!.split(','));
const dtypes = opts.dtype!.split(',') as Dtype[];
/** (a) on WebGPU once per `--gpu-batch` size (the page's ?gpuBatch=N), alternating; else at the app's own. */
const gpuBatches: (number | undefined)[] = opts['gpu-batch'] ? opts['gpu-batch'].split(',').map(Number) : [undefined];
for (const dt of dtypes) {
  if (!DTYPES.includes(dt)) {
    console.error(`bench:compare: --dtype ${dt} is not one of ${DTYPES.join(', ')}`);
    process.exit(2);
  }
  if (!fs.existsSync(path.join(modelDir, onnxPath('vision', dt)))) {
    console.error(
      `bench:compare: ${modelDir}/${onnxPath('vision', dt)} is missing` +
        (dt === 'q8'
          ? ` (make it: /usr/bin/python3 scripts/fixtures/quantize-q8.py <fp32 model dir> ${opts.model})`
          : ''),
    );
    process.exit(2);
  }
}
/** `ours`, `ours-q8`: fp32 keeps the peers' old names, so earlier JSON compares. */
const tag = (peer: string, dt: Dtype) => (dt === 'fp32' ? peer : `${peer}-${dt}`);
const epBundles = opts['ep-bundles']!.split(',') as OrtBundle[];

/** Sorted image files under `dir`, relative paths. */
function imagesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(jpe?g|png|webp)$/i.test(e.name)) out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/** A folder holding exactly these files (copies), so the app's folder input picks the same images. */
function subsetFolder(name: string, root: string, files: string[]): string {
  const dir = path.join(REPO, '.cache/bench-compare', name);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(dir, f));
  }
  return dir;
}

interface Dataset {
  name: string;
  dir: string;
  files: string[];
}

const cifarRoot = path.join(DATASETS, 'cifar10/dev');
const petsRoot = path.join(DATASETS, 'oxford-pets-sample');
const cifarFiles = imagesUnder(cifarRoot).slice(0, Number(opts.cifar));
const petsFiles = imagesUnder(petsRoot).slice(0, Number(opts.pets));
const datasets: Dataset[] = [
  { name: `cifar10-dev-${cifarFiles.length}`, dir: subsetFolder('cifar', cifarRoot, cifarFiles), files: cifarFiles },
  { name: `oxford-pets-${petsFiles.length}`, dir: subsetFolder('pets', petsRoot, petsFiles), files: petsFiles },
];

/** Serves the dataset copies with the headers a cross-origin-isolated page needs to fetch them. */
function startImageServer(root: string): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    const p = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!p.startsWith(root) || !fs.existsSync(p) || fs.statSync(p).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': /\.png$/i.test(p) ? 'image/png' : 'image/jpeg',
      'access-control-allow-origin': '*',
      'cross-origin-resource-policy': 'cross-origin',
    });
    fs.createReadStream(p).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${a.port}`, close: () => server.close() });
    }),
  );
}

interface Measure {
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

/** (a) The app end to end: folder input → Retrieval run (images only, cache off) on `backend`. */
async function ours(
  appUrl: string,
  modelName: string,
  d: Dataset,
  backend: string,
  decodeWorkers?: number,
  dtype: Dtype = 'fp32',
  gpuBatch?: number,
): Promise<Measure> {
  const b = await launch();
  try {
    const source = urlSource(`${appUrl}/models/${modelName}/`, 'server', modelName);
    if (opts['model-cached']) {
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
async function inBrowser<T = PeerTiming>(
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

/** (b) onnxruntime-node: sharp decodes (EXIF applied), our Pillow-exact resize + normalization, batches. */
async function native(d: Dataset): Promise<Measure> {
  // Imported here: a machine that runs only the browser peers needs neither native module.
  const ortNode = await import('onnxruntime-node');
  const sharp = (await import('sharp')).default;
  const cfg = parsePreprocessConfig(
    JSON.parse(fs.readFileSync(path.join(modelDir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>,
  );
  const { width, height } = outputSize(cfg);
  const plane = 3 * width * height;
  const tl = Date.now();
  const session = await ortNode.InferenceSession.create(path.join(modelDir, 'onnx/vision_model.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const loadMs = Date.now() - tl;
  const input = session.inputNames.includes('pixel_values') ? 'pixel_values' : session.inputNames[0]!;
  const output = session.outputNames.includes('image_embeds') ? 'image_embeds' : session.outputNames[0]!;
  await session.run({ [input]: new ortNode.Tensor('float32', new Float32Array(plane), [1, 3, height, width]) });
  let inferMs = 0;
  const t0 = performance.now();
  for (let s = 0; s < d.files.length; s += batch) {
    const files = d.files.slice(s, s + batch);
    const px = new Float32Array(files.length * plane);
    for (let k = 0; k < files.length; k++) {
      const { data, info } = await sharp(path.join(d.dir, files[k]!))
        .rotate()
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      preprocessRgb({ data, width: info.width, height: info.height, channels: 3 }, cfg, px, k * plane);
    }
    const ti = performance.now();
    const out = await session.run({ [input]: new ortNode.Tensor('float32', px, [files.length, 3, height, width]) }, [
      output,
    ]);
    void out[output]!.data.length;
    inferMs += performance.now() - ti;
  }
  const ms = performance.now() - t0;
  await session.release();
  return {
    peer: 'native',
    dataset: d.name,
    images: d.files.length,
    imagesPerSec: (d.files.length * 1000) / ms,
    ms,
    inferMs,
    loadMs,
    peakRssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const BUILT = '.cache/bench-dist';

/** Where (a) runs, serving `modelsDir` at /models/: the production build unless `--dev-server`. */
async function ourApp(modelsDir: string): Promise<{ url: string; close(): Promise<void> }> {
  if (opts['dev-server']) {
    const dev = await startAppServer(modelsDir);
    return { url: dev.url, close: () => dev.server.close() };
  }
  return serveBuiltApp({ outDir: BUILT, modelsDir, rebuild: !isBuildFresh(BUILT) });
}

async function main(): Promise<void> {
  const modelsDir = path.dirname(modelDir);
  const modelName = path.basename(modelDir);
  const app = await startAppServer(modelsDir);
  const ourMain = await ourApp(modelsDir);
  console.log(`(a) runs on ${opts['dev-server'] ? 'the Vite dev server' : `the production build (${BUILT})`}`);
  const images = await startImageServer(path.join(REPO, '.cache/bench-compare'));
  const measures: Measure[] = [];
  const parity: Record<string, unknown> = {};
  let probe: Probe | null = null;
  let epRuns: EpRun[] = [];
  let epModel: string | null = null;
  const log = (m: Measure) => {
    // The machine's 1-minute load when the measure ended: other jobs running show here.
    m.extra = { ...m.extra, load_avg_1m: Number(os.loadavg()[0]!.toFixed(2)) };
    measures.push(m);
    console.log(
      `${m.peer.padEnd(15)} ${m.dataset.padEnd(18)} ${m.imagesPerSec.toFixed(2).padStart(7)} images/s` +
        `${m.inferMs !== undefined ? `  model calls ${((m.inferMs / m.images) | 0).toString().padStart(4)} ms/image` : ''}` +
        `${m.peakRssMB !== undefined ? `  peak RSS ${m.peakRssMB} MB` : ''}` +
        `${m.peakPssMB !== undefined ? `  PSS ${m.peakPssMB} MB (growth ${m.growthMB} MB, peak at ${m.peakAtS} s)` : ''}` +
        `${m.pssByProcessMB ? ` [${kinds(m.pssByProcessMB)}]` : ''}` +
        `${m.cpuSecondsByProcess ? ` CPU s [${kinds(m.cpuSecondsByProcess)}]` : ''}` +
        `${m.loadPeakPssMB !== undefined ? `  load PSS ${m.loadPeakPssMB} MB` : ''}` +
        `${m.loadPeak ? ` (${m.loadPeak.atS} s into ${((m.loadMs ?? 0) / 1000).toFixed(1)} s) [${kinds(m.loadPeak.pssByProcessMB)}]` : ''}` +
        `${m.loadCpuSecondsByProcess ? ` CPU s [${kinds(m.loadCpuSecondsByProcess)}]` : ''}` +
        `${m.afterLoad ? `, then ${(m.afterLoad.ms / 1000).toFixed(1)} s to the run` : ''}` +
        `${m.afterLoad ? ` (longest wait for a frame ${m.afterLoad.longestFrameGapMs} ms)` : ''}` +
        `${
          m.loadedFrom
            ? `, files read as ${Object.entries(m.loadedFrom)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}`
            : ''
        }` +
        `${m.longestTaskMs !== undefined ? `  longest main-thread task ${m.longestTaskMs.toFixed(0)} ms` : ''}` +
        `${m.longestFrameGap ? `  longest wait for a frame ${m.longestFrameGap.ms} ms (${(m.longestFrameGap.atMs / 1000).toFixed(1)} s in)` : ''}` +
        `${m.firstQuery ? `  first query ${m.firstQuery.ms} ms, PSS ${m.firstQuery.beforePssMB} MB before, peak ${m.firstQuery.peakPssMB} MB (${m.firstQuery.afterPssMB} MB 2 s after), longest wait for a frame ${m.firstQuery.longestFrameGapMs} ms, text tower read as ${m.firstQuery.loadedFrom.join(', ') || '–'}` : ''}`,
    );
    for (const t of m.longTasks ?? [])
      console.log(
        `  long task: ${t.ms} ms at ${(t.atMs / 1000).toFixed(1)} s into the run; ${t.scripts.join('; ') || 'no script'}`,
      );
    for (const t of m.longFrameGaps ?? [])
      console.log(
        `  wait for a frame: ${t.ms} ms at ${(t.atMs / 1000).toFixed(1)} s into the run; ` +
          `${t.scripts.join('; ') || 'no long animation frame'}`,
      );
  };
  try {
    const preprocessUrl = `${app.url}/models/${modelName}/preprocessor_config.json`;
    const wasmBase = '/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
    /** (c) on `urls` with one weight variant, on the compare section's backend and the build the app runs it with. */
    const ortwebArgs = (dt: Dtype, urls: string[]) => ({
      modelUrl: `${app.url}/models/${modelName}/${onnxPath('vision', dt)}`,
      preprocessUrl,
      imageUrls: urls,
      threads,
      batch,
      ep: backend,
      // `/wasm` on WASM; on WebGPU, JSPI where the browser has it (ort-engine.ts `runtimeFor`).
      bundle: 'as-app' as const,
    });
    if (sections.has('compare')) {
      for (let r = 0; r < Number(opts.rounds); r++) {
        for (const d of datasets) {
          const urls = d.files.map((f) => `${images.url}/${d.dir.split('/').pop()}/${f}`);
          // Weight variants alternate inside each dataset, so a slow spell of the machine hits both.
          for (const dt of dtypes)
            for (const gb of gpuBatches)
              if (peers.has('a'))
                log({
                  ...(await ours(ourMain.url, modelName, d, backend, undefined, dt, gb)),
                  peer: tag(gb ? `ours-batch${gb}` : 'ours', dt),
                });
          if (peers.has('b')) log(await native(d));
          for (const dt of peers.has('c') ? dtypes : []) {
            const t = await inBrowser(app.url, 'ortweb', ortwebArgs(dt, urls));
            log({
              peer: tag('ortweb', dt),
              dataset: d.name,
              ...t,
              extra: { prep_ms: t.prepMs, dtype: dt, ep: t.ep, bundle: t.bundle },
            });
          }
          if (peers.has('d')) {
            // As a user runs it (onnxruntime-web's default thread count), and with ours' thread count (on
            // WASM only: on WebGPU the model does not run on those threads).
            const runs = [
              ['transformersjs', null],
              ['transformersjs-same-threads', threads],
            ] as const;
            for (const [peer, th] of backend === 'wasm' ? runs : runs.slice(0, 1)) {
              const t = await inBrowser(app.url, 'transformers', {
                modelBase: `${app.url}/models/`,
                id: modelName,
                imageUrls: urls,
                threads: th,
                batch,
                wasmBase,
                device: backend,
              });
              log({
                peer,
                dataset: d.name,
                ...t,
                extra: { prep_ms: t.prepMs, threads: t.threadsUsed, device: backend },
              });
            }
          }
        }
      }
    }
    if (sections.has('memory')) {
      // A long run of the B/32-shaped model: peak footprint and growth across batches.
      const n = Number(opts['memory-images']);
      const train = imagesUnder(path.join(DATASETS, 'cifar10/train'));
      const files = [...cifarFiles.map((f) => `dev/${f}`), ...train.map((f) => `train/${f}`)].slice(0, n);
      const root = path.join(DATASETS, 'cifar10');
      const dir = subsetFolder('memory', root, files);
      // CIFAR-10 here has 9,000 images; past that, byte variants of them (a tag after the PNG's IEND chunk,
      // which decoders ignore): other content hashes, so each is hashed, decoded and encoded like a new photo.
      for (let k = 0; files.length < n; k++) {
        const src = files[k]!;
        const f = `variants/${src.replace(/\//g, '_')}`;
        fs.mkdirSync(path.join(dir, 'variants'), { recursive: true });
        fs.writeFileSync(
          path.join(dir, f),
          Buffer.concat([fs.readFileSync(path.join(root, src)), Buffer.from(`v${k}`)]),
        );
        files.push(f);
      }
      const d = { name: `cifar10-${files.length}`, dir, files };
      for (let r = 0; r < Number(opts.rounds); r++)
        for (const dt of dtypes)
          log({ ...(await ours(ourMain.url, modelName, d, backend, undefined, dt)), peer: tag('ours-memory', dt) });
    }
    if (sections.has('parity') && dtypes.length > 1) {
      // (c) on the CIFAR-10 subset once per variant, embeddings kept: each variant's rows against fp32's.
      const d = datasets[0]!;
      const urls = d.files.map((f) => `${images.url}/${d.dir.split('/').pop()}/${f}`);
      const rows: Partial<Record<Dtype, number[]>> = {};
      for (const dt of dtypes.includes('fp32') ? dtypes : ['fp32' as Dtype, ...dtypes]) {
        const t = await inBrowser(app.url, 'ortweb', { ...ortwebArgs(dt, urls), keepEmbeddings: true });
        rows[dt] = t.embeddings!;
      }
      const dim = rows.fp32!.length / d.files.length;
      for (const dt of dtypes.filter((x) => x !== 'fp32')) {
        parity[dt] = { dataset: d.name, ...cosineStats(rows.fp32!, rows[dt]!, dim) };
        console.log(`parity ${dt} vs fp32 (${d.name}): ${JSON.stringify(parity[dt])}`);
      }
    }
    if (sections.has('ep')) {
      // The builds on a small model: SwiftShader (a CPU emulation of a GPU) is far too slow for B/32.
      const epDir = path.resolve(opts['ep-model'] ?? path.join(MODELS, 'toy-clip-cifar10'));
      const epApp = await startAppServer(path.dirname(epDir));
      try {
        const name = path.basename(epDir);
        const urls = cifarFiles
          .slice(0, Number(opts['ep-images']))
          .map((f) => `${images.url}/${datasets[0]!.dir.split('/').pop()}/${f}`);
        const p = await inBrowser<Probe>(epApp.url, 'probe', {});
        probe = { jspi: p.jspi, adapter: p.adapter, fallbackAdapter: p.fallbackAdapter };
        console.log(`browser: JSPI ${probe.jspi ? 'yes' : 'no'}, WebGPU adapter ${probe.adapter ?? 'none'}`);
        const base = {
          modelUrl: `${epApp.url}/models/${name}/onnx/vision_model.onnx`,
          preprocessUrl: `${epApp.url}/models/${name}/preprocessor_config.json`,
          imageUrls: urls,
          threads,
          batch,
        };
        epRuns = await epSection(
          (a) => inBrowser(epApp.url, 'ortweb', a),
          base,
          epBundles,
          opts['ep-providers']!.split(',') as ('webgpu' | 'wasm')[],
          Number(opts.rounds),
          (l) => console.log(l),
        );
        epModel = epDir;
      } finally {
        await epApp.server.close();
      }
    }
    const toy = path.join(MODELS, 'toy-clip-cifar10');
    const pets = datasets[1]!;
    if (sections.has('pool')) {
      // The toy model is served from the shared models folder by a second app server.
      const toyApp = await ourApp(MODELS);
      try {
        for (const n of opts['pool-workers']!.split(',').map(Number)) {
          const m = await ours(toyApp.url, path.basename(toy), pets, 'wasm', n);
          log({ ...m, peer: `ours-decode-${n}` });
        }
      } finally {
        await toyApp.close();
      }
    }
    if (sections.has('auto')) {
      // Auto's choice against each forced backend, each in a fresh profile (Auto times both there).
      const autoDir = path.resolve(opts['auto-model'] ?? toy);
      const autoApp = await ourApp(path.dirname(autoDir));
      try {
        for (const be of ['auto', 'wasm', 'webgpu']) {
          const m = await ours(autoApp.url, path.basename(autoDir), pets, be);
          log({ ...m, peer: `ours-${be}` });
        }
      } finally {
        await autoApp.close();
      }
    }
  } finally {
    images.close();
    await ourMain.close();
    await app.server.close();
  }

  const rate = (peer: string) => median(measures.filter((m) => m.peer === peer).map((m) => m.imagesPerSec));
  const peakPss = (peer: string) => median(measures.filter((m) => m.peer === peer).map((m) => m.peakPssMB ?? NaN));
  const perDataset = (peer: string, other: string) =>
    Object.fromEntries(
      datasets.map((d) => {
        const a = measures.find((m) => m.peer === peer && m.dataset === d.name);
        const b = measures.find((m) => m.peer === other && m.dataset === d.name);
        return [d.name, a && b ? a.imagesPerSec / b.imagesPerSec : null];
      }),
    );
  const ratios = {
    ours_over_native: rate('ours') / rate('native'),
    ours_over_ortweb: rate('ours') / rate('ortweb'),
    ours_over_transformersjs: rate('ours') / rate('transformersjs'),
    ours_over_transformersjs_same_threads: rate('ours') / rate('transformersjs-same-threads'),
    // Each variant's median images/s (memory: median peak PSS) over fp32's, per peer.
    ...Object.fromEntries(
      dtypes
        .filter((dt) => dt !== 'fp32')
        .map((dt) => [
          `${dt}_over_fp32`,
          {
            ours: rate(tag('ours', dt)) / rate('ours'),
            ortweb: rate(tag('ortweb', dt)) / rate('ortweb'),
            memory_peak_pss: peakPss(tag('ours-memory', dt)) / peakPss('ours-memory'),
          },
        ]),
    ),
    // `--gpu-batch`: (a) at each WebGPU batch size over (c).
    ...(opts['gpu-batch']
      ? {
          ours_by_gpu_batch_over_ortweb: Object.fromEntries(
            gpuBatches.map((gb) => [String(gb), rate(`ours-batch${gb}`) / rate('ortweb')]),
          ),
        }
      : {}),
    per_dataset: {
      ours_over_native: perDataset('ours', 'native'),
      ours_over_ortweb: perDataset('ours', 'ortweb'),
      ours_over_transformersjs: perDataset('ours', 'transformersjs'),
      ours_over_transformersjs_same_threads: perDataset('ours', 'transformersjs-same-threads'),
    },
  };
  const out = {
    date: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, load_avg: os.loadavg() },
    model: modelDir,
    backend,
    threads,
    batch,
    measures,
    dtypes,
    medians_images_per_sec: Object.fromEntries([...new Set(measures.map((m) => m.peer))].map((p) => [p, rate(p)])),
    ratios,
    ...(Object.keys(parity).length ? { parity } : {}),
    ...(sections.has('ep')
      ? {
          ep: {
            model: epModel,
            images: Number(opts['ep-images']),
            browser: probe,
            jspi_build: jspiBuild(),
            runs: epRuns,
            ...epSummary(epRuns),
          },
        }
      : {}),
  };
  fs.mkdirSync(path.dirname(path.resolve(opts.out!)), { recursive: true });
  fs.writeFileSync(opts.out!, JSON.stringify(out, null, 2));
  console.log(
    `\nratios (median images/s): ${JSON.stringify(ratios, (_, v: unknown) => (typeof v === 'number' ? Number(v.toFixed(3)) : v))}`,
  );
  console.log(`wrote ${opts.out}`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
