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
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startAppServer } from '../tests/helpers/app-server';
import { isBuildFresh } from '../tests/helpers/built-app';
import { DATASETS, MODELS, REPO } from '../tests/helpers/paths';
import { DTYPES, onnxPath, type Dtype } from '../src/data/model-files';
import type { OrtBundle } from './bench-peers.worker';
import { cosineStats, epSection, epSummary, jspiBuild, type EpRun, type Probe } from './bench-ort-variants';
import { serveBuiltApp } from './serve-built';
import { describeMeasure, inBrowser, ours, type Measure } from './bench-compare-ours';
import { imagesUnder, memoryFolder, native, startImageServer, subsetFolder, type Dataset } from './bench-compare-data';

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

const cifarRoot = path.join(DATASETS, 'cifar10/dev');
const petsRoot = path.join(DATASETS, 'oxford-pets-sample');
const cifarFiles = imagesUnder(cifarRoot).slice(0, Number(opts.cifar));
const petsFiles = imagesUnder(petsRoot).slice(0, Number(opts.pets));
const datasets: Dataset[] = [
  { name: `cifar10-dev-${cifarFiles.length}`, dir: subsetFolder('cifar', cifarRoot, cifarFiles), files: cifarFiles },
  { name: `oxford-pets-${petsFiles.length}`, dir: subsetFolder('pets', petsRoot, petsFiles), files: petsFiles },
];

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
  const modelCached = opts['model-cached'];
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
    for (const line of describeMeasure(m)) console.log(line);
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
                  ...(await ours(ourMain.url, modelName, d, { backend, dtype: dt, gpuBatch: gb, modelCached })),
                  peer: tag(gb ? `ours-batch${gb}` : 'ours', dt),
                });
          if (peers.has('b')) log(await native(d, { modelDir, threads, batch }));
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
      const d = memoryFolder(Number(opts['memory-images']), cifarFiles);
      for (let r = 0; r < Number(opts.rounds); r++)
        for (const dt of dtypes)
          log({
            ...(await ours(ourMain.url, modelName, d, { backend, dtype: dt, modelCached })),
            peer: tag('ours-memory', dt),
          });
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
          const m = await ours(toyApp.url, path.basename(toy), pets, {
            backend: 'wasm',
            decodeWorkers: n,
            modelCached,
          });
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
          const m = await ours(autoApp.url, path.basename(autoDir), pets, { backend: be, modelCached });
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
