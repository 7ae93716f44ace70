/**
 * `npm run bench:compare`: this app against what a user would otherwise run, on the same machine, model
 * file and images, in one sitting, alternating per dataset:
 *   (a) ours — the app end to end in headless Chromium on WASM (folder → embeddings, Retrieval tab, no cache);
 *   (b) native — onnxruntime-node on the CPU, same ONNX file, same preprocessing (sharp decode + our
 *       Pillow-exact resize and normalization), same thread count;
 *   (c) ortweb — onnxruntime-web alone in the same browser (a module worker) on pre-made tensors;
 *   (d) transformersjs — @huggingface/transformers (CLIPVisionModelWithProjection + AutoProcessor, fp32,
 *       WASM) in the same browser on the same files.
 * Also, with `--sections`: `pool` (toy model on the Pets photos with 1, 2 and 4 decode workers) and
 * `auto` (Auto's choice against each forced backend, fresh profile each). Prints a table and writes
 * `--out` JSON with the raw figures and `ratios` (images/s of ours ÷ each peer's).
 *
 *   npm run bench:compare -- [--model .cache/b32] [--cifar 200] [--pets 370] [--threads N] [--batch 8]
 *                            [--peers a,b,c,d] [--sections compare,pool,auto] [--rounds 1]
 *                            [--out .cache/bench-compare.json]
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import * as ortNode from 'onnxruntime-node';
import sharp from 'sharp';
import { CHROMIUM_ARGS } from '../tests/helpers/browser';
import { startAppServer } from '../tests/helpers/app-server';
import { DATASETS, MODELS, REPO } from '../tests/helpers/paths';
import { urlSource } from '../src/data/model-files';
import { outputSize, parsePreprocessConfig, preprocessRgb } from '../src/core/preprocess';
import type { PeerTiming } from './bench-peers.worker';
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
const threads = Number(opts.threads);
const batch = Number(opts.batch);
const peers = new Set(opts.peers!.split(','));
const sections = new Set(opts.sections!.split(','));

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

/** Resident memory of a process and all its descendants, bytes (Linux /proc). */
function treeRss(pid: number): number {
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
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      total += m ? Number(m[1]) * 1024 : 0;
    } catch {
      // gone meanwhile
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

/** Samples `treeRss(pid)` every 250 ms until stopped; returns the peak, bytes. */
function watchMemory(pid: number): () => number {
  let peak = treeRss(pid);
  const timer = setInterval(() => (peak = Math.max(peak, treeRss(pid))), 250);
  return () => {
    clearInterval(timer);
    return Math.max(peak, treeRss(pid));
  };
}

interface Measure {
  peer: string;
  dataset: string;
  images: number;
  imagesPerSec: number;
  ms: number;
  inferMs?: number;
  loadMs?: number;
  peakRssMB?: number;
  longestTaskMs?: number;
  extra?: Record<string, unknown>;
}

const LONG_TASKS = () => {
  const w = window as unknown as { __longTasks: number[] };
  w.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) w.__longTasks.push(e.duration);
  }).observe({ type: 'longtask', buffered: true });
};

async function launch(): Promise<{ browser: Browser; pid: number; close: () => Promise<void> }> {
  const server = await chromium.launchServer({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const browser = await chromium.connect(server.wsEndpoint());
  return {
    browser,
    pid: server.process().pid!,
    close: async () => {
      await browser.close();
      await server.close();
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
): Promise<Measure> {
  const b = await launch();
  try {
    const page = await b.browser.newPage();
    await page.addInitScript(LONG_TASKS);
    const q = decodeWorkers ? `&decodeWorkers=${decodeWorkers}` : '';
    // Generous: a cold Vite dev server on a loaded 2-core machine took 90 s to serve the page.
    page.setDefaultTimeout(900_000);
    await page.goto(`${appUrl}/?mode=retrieve${q}`, { timeout: 900_000 });
    await page.waitForFunction(() => 'zsw' in window, null, { timeout: 900_000 });
    const source = urlSource(`${appUrl}/models/${modelName}/`, 'server', modelName);
    const tl = Date.now();
    const loaded = await page.evaluate(([s, be]) => window.zsw.engine.load(s, be, 'fp32'), [source, backend] as const);
    if (!loaded) throw new Error(`load failed: ${JSON.stringify(await page.evaluate(() => window.zsw.engine.error))}`);
    const loadMs = Date.now() - tl;
    const info = await page.evaluate(() => window.zsw.engine.info as unknown as Record<string, unknown>);
    await page.getByTestId('mode-retrieve').click();
    await page.getByTestId('retrieval-folder-input').setInputFiles(d.dir);
    await page.waitForFunction(() => window.zsw.retrieve.dataset !== null);
    await page.waitForFunction(() => window.zsw.retrieve.indexing?.ms != null, null, { timeout: 600_000 });
    await page.evaluate(() => {
      window.zsw.retrieve.useCache = false;
      (window as unknown as { __longTasks: number[] }).__longTasks.length = 0;
    });
    const stop = watchMemory(b.pid);
    const t0 = Date.now();
    const ok = await page.evaluate(() => window.zsw.retrieve.start());
    const wall = Date.now() - t0;
    const peak = stop();
    if (!ok) throw new Error(`run failed: ${JSON.stringify(await page.evaluate(() => window.zsw.retrieve.error))}`);
    const res = (await page.evaluate(() => window.zsw.retrieve.resultsJson())) as {
      timing: { embed_images_ms: number };
    };
    const longTasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
    const embedMs = res.timing.embed_images_ms;
    return {
      peer: 'ours',
      dataset: d.name,
      images: d.files.length,
      imagesPerSec: (d.files.length * 1000) / embedMs,
      ms: embedMs,
      loadMs,
      peakRssMB: Math.round(peak / 2 ** 20),
      longestTaskMs: Math.max(0, ...longTasks),
      extra: {
        wall_ms: wall,
        backend: info.backend,
        wasm_threads: (info.probe as { wasmThreads: number }).wasmThreads,
        backend_decision: info.backendDecision,
        decode_workers: decodeWorkers ?? null,
      },
    };
  } finally {
    await b.close();
  }
}

/** (c)/(d): one command in the peers' module worker, in a fresh browser (its own memory figure). */
async function inBrowser(
  appUrl: string,
  cmd: 'ortweb' | 'transformers',
  args: unknown,
): Promise<PeerTiming & { peakRssMB: number }> {
  const b = await launch();
  try {
    const page: Page = await b.browser.newPage();
    page.setDefaultTimeout(900_000);
    await page.goto(`${appUrl}/?mode=retrieve`, { timeout: 900_000 });
    const stop = watchMemory(b.pid);
    const r = await page.evaluate(
      ([c, a]) =>
        new Promise<PeerTiming>((resolve, reject) => {
          const w = new Worker('/scripts/bench-peers.worker.ts', { type: 'module' });
          w.onmessage = (e: MessageEvent<{ result?: PeerTiming; error?: string }>) =>
            e.data.error ? reject(new Error(e.data.error)) : resolve(e.data.result!);
          w.onerror = (e) => reject(new Error(e.message));
          w.postMessage({ id: 1, cmd: c, args: a });
        }),
      [cmd, args] as const,
    );
    return { ...r, peakRssMB: Math.round(stop() / 2 ** 20) };
  } finally {
    await b.close();
  }
}

/** (b) onnxruntime-node: sharp decodes (EXIF applied), our Pillow-exact resize + normalization, batches. */
async function native(d: Dataset): Promise<Measure> {
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

async function main(): Promise<void> {
  const modelsDir = path.dirname(modelDir);
  const modelName = path.basename(modelDir);
  const app = await startAppServer(modelsDir);
  const images = await startImageServer(path.join(REPO, '.cache/bench-compare'));
  const measures: Measure[] = [];
  const log = (m: Measure) => {
    measures.push(m);
    console.log(
      `${m.peer.padEnd(15)} ${m.dataset.padEnd(18)} ${m.imagesPerSec.toFixed(2).padStart(7)} images/s` +
        `${m.inferMs !== undefined ? `  model calls ${((m.inferMs / m.images) | 0).toString().padStart(4)} ms/image` : ''}` +
        `${m.peakRssMB !== undefined ? `  peak ${m.peakRssMB} MB` : ''}` +
        `${m.longestTaskMs !== undefined ? `  longest main-thread task ${m.longestTaskMs.toFixed(0)} ms` : ''}`,
    );
  };
  try {
    const modelUrl = `${app.url}/models/${modelName}/onnx/vision_model.onnx`;
    const preprocessUrl = `${app.url}/models/${modelName}/preprocessor_config.json`;
    const wasmBase = '/node_modules/@huggingface/transformers/node_modules/onnxruntime-web/dist/';
    if (sections.has('compare')) {
      for (let r = 0; r < Number(opts.rounds); r++) {
        for (const d of datasets) {
          const urls = d.files.map((f) => `${images.url}/${d.dir.split('/').pop()}/${f}`);
          if (peers.has('a')) log(await ours(app.url, modelName, d, 'wasm'));
          if (peers.has('b')) log(await native(d));
          if (peers.has('c')) {
            const t = await inBrowser(app.url, 'ortweb', { modelUrl, preprocessUrl, imageUrls: urls, threads, batch });
            log({ peer: 'ortweb', dataset: d.name, ...t, extra: { prep_ms: t.prepMs } });
          }
          if (peers.has('d')) {
            const t = await inBrowser(app.url, 'transformers', {
              modelBase: `${app.url}/models/`,
              id: modelName,
              imageUrls: urls,
              threads,
              batch,
              wasmBase,
            });
            log({ peer: 'transformersjs', dataset: d.name, ...t, extra: { prep_ms: t.prepMs } });
          }
        }
      }
    }
    const toy = path.join(MODELS, 'toy-clip-cifar10');
    const pets = datasets[1]!;
    if (sections.has('pool') || sections.has('auto')) {
      // The toy model is served from the shared models folder by a second app server.
      const toyApp = await startAppServer(MODELS);
      try {
        if (sections.has('pool')) {
          for (const n of [1, 2, 4]) {
            const m = await ours(toyApp.url, path.basename(toy), pets, 'wasm', n);
            log({ ...m, peer: `ours-decode-${n}` });
          }
        }
        if (sections.has('auto')) {
          for (const be of ['auto', 'wasm', 'webgpu']) {
            const m = await ours(toyApp.url, path.basename(toy), pets, be);
            log({ ...m, peer: `ours-${be}` });
          }
        }
      } finally {
        await toyApp.server.close();
      }
    }
  } finally {
    images.close();
    await app.server.close();
  }

  const rate = (peer: string) => median(measures.filter((m) => m.peer === peer).map((m) => m.imagesPerSec));
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
    per_dataset: {
      ours_over_native: perDataset('ours', 'native'),
      ours_over_ortweb: perDataset('ours', 'ortweb'),
      ours_over_transformersjs: perDataset('ours', 'transformersjs'),
    },
  };
  const out = {
    date: new Date().toISOString(),
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, load_avg: os.loadavg() },
    model: modelDir,
    threads,
    batch,
    measures,
    medians_images_per_sec: Object.fromEntries([...new Set(measures.map((m) => m.peer))].map((p) => [p, rate(p)])),
    ratios,
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
