/**
 * Headless bench: builds the app, serves it on 127.0.0.1, and drives it in headless Chromium through
 * the same folder intake, workers and metrics code as the UI. Writes the results JSON and prints a
 * one-line summary.
 *
 *   npm run bench -- --model <dir|url|hub id> --data <folder> [--templates openai80|openai7|simple|<file>]
 *                    [--backend auto|webgpu|wasm] [--dtype auto|fp32|fp16|q8] [--limit N] [--out results.json]
 *                    [--resize pil|browser] [--classnames <classes.json|classnames.txt>]
 *                    [--profile <dir>] [--no-cache] [--port 4179] [--frequencies <concept counts .json|.csv>]
 *                    [--metadata <per-image .csv|.tsv|.json|.jsonl> --slice-by <column>[,<column>]]
 *                    [--label-column <column>]   (labels from this --metadata column: a flat --data folder, or one
 *                                                 whose subfolders are not classes;
 *                                                 default a recognised one: label, object, imagenet_sysnet_id…)
 *                    [--logit-scale S] [--logit-bias=B]   (scoring scalars an export lacks, e.g. SigLIP's;
 *                                                        a negative bias needs the = form)
 *                    [--cpu-profile <file.cpuprofile>]   (the page's main thread, from the folder's pick to
 *                                                       the end of the run)
 *   npm run bench -- --model … --embeddings <clip-retrieval folder | .npy + path list>  (in place of --data)
 *   npm run bench -- --model A --model B [--model …] --data <folder> [--model-scalars <id>=<scale>,<bias>]  (a comparison)
 *   npm run bench -- --task retrieve --model A --model B … --data <image folder> [--captions <file>]  (a retrieval comparison)
 *   npm run bench -- --task retrieve --model … --data <image folder> [--captions <file>] [--queries 20] [--out …]
 *
 * The browser profile (default .cache/bench-profile) persists between runs, so the embedding cache in
 * its IndexedDB makes a second run with other classes or templates encode no image; `--no-cache`
 * runs cold (no cache reads or writes).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchPersistent } from '../tests/helpers/browser';
import { serveBuiltApp } from './serve-built';
import { treeMemory } from './bench-process';
import { hubSource, urlSource, type ModelSource } from '../src/data/model-files';
import { isPresetId } from '../src/core/templates';
import { benchRetrieve, checkCaptionsArg } from './bench-retrieve';
import {
  FRAME_WATCH,
  LONG_TASKS,
  type LongTask,
  longestFrameGap,
  mainThreadSinceReset,
  resetLongTasks,
  startCpuProfile,
} from './bench-main-thread';
import { importEmbeddings } from './bench-embeddings';
import { benchMulti, parseModelScalars } from './bench-multi';
import '../tests/helpers/zsw';

const { values: opts } = parseArgs({
  options: {
    task: { type: 'string', default: 'classify' },
    captions: { type: 'string' },
    queries: { type: 'string', default: '20' },
    model: { type: 'string', multiple: true },
    'model-scalars': { type: 'string', multiple: true },
    data: { type: 'string' },
    embeddings: { type: 'string' },
    templates: { type: 'string', default: 'openai80' },
    backend: { type: 'string', default: 'auto' },
    dtype: { type: 'string', default: 'auto' },
    limit: { type: 'string' },
    out: { type: 'string', default: 'results.json' },
    resize: { type: 'string', default: 'pil' },
    'no-build': { type: 'boolean', default: false },
    classnames: { type: 'string' },
    frequencies: { type: 'string' },
    metadata: { type: 'string' },
    'slice-by': { type: 'string' },
    'label-column': { type: 'string' },
    profile: { type: 'string', default: '.cache/bench-profile' },
    // The cache lives in the profile per origin, so the app is served on the same port every run.
    port: { type: 'string', default: '4179' },
    'no-cache': { type: 'boolean', default: false },
    'logit-scale': { type: 'string' },
    'logit-bias': { type: 'string' },
    'cpu-profile': { type: 'string' },
  },
});

/** "SigLIP, sigmoid(8.42·cos − 4.56), scale: user" — the family and scoring the run applied. */
function familyNote(results: Record<string, unknown>): string {
  const m = results.model as {
    family?: { label: string };
    scoring?: { kind: string; scale: number | null; bias: number | null; scale_source: string; bias_source: string };
  };
  const s = m.scoring;
  if (!m.family || !s) return 'family ?';
  const scale = s.scale === null ? '?' : s.scale.toFixed(2);
  const bias =
    s.kind === 'sigmoid'
      ? s.bias === null
        ? ' + ?'
        : ` ${s.bias < 0 ? '−' : '+'} ${Math.abs(s.bias).toFixed(2)}`
      : '';
  const src = s.kind === 'sigmoid' ? `scale: ${s.scale_source}, bias: ${s.bias_source}` : `scale: ${s.scale_source}`;
  return `${m.family.label}, ${s.kind}(${scale}·cos${bias}) (${src})`;
}

function fail(message: string): never {
  console.error(`bench: ${message}`);
  process.exit(2);
}

// Several --model: a comparison (scripts/bench-multi.ts); one: the usual single-model run.
const modelArgs = opts.model ?? [];
const multi = modelArgs.length > 1;
if (multi && (opts.embeddings || opts.limit || opts.classnames || opts.metadata))
  fail('several --model compare on --data; --embeddings, --limit, --classnames and --metadata take one model.');
if (modelArgs.length === 0 || !(opts.data ?? opts.embeddings))
  fail('--model and --data (or --embeddings) are required (see the README).');
if (opts.data && opts.embeddings) fail('--embeddings takes the place of --data: give one of them.');
if (opts.embeddings && opts.task !== 'classify')
  fail('--embeddings works with --task classify (retrieval imports through the page).');
const dataDir = path.resolve((opts.data ?? opts.embeddings)!);
if (!fs.existsSync(dataDir) || !fs.statSync(dataDir).isDirectory())
  fail(`${opts.data ? '--data' : '--embeddings'} ${opts.data ?? opts.embeddings} is not a folder.`);
if (!['auto', 'webgpu', 'wasm'].includes(opts.backend!)) fail(`--backend must be auto, webgpu or wasm.`);
const limit = opts.limit ? Number(opts.limit) : null;
if (limit !== null && !(limit > 0)) fail('--limit must be a positive number.');
if (opts.classnames && !fs.existsSync(opts.classnames)) fail(`--classnames ${opts.classnames}: no such file.`);
if (opts.frequencies && !fs.existsSync(opts.frequencies)) fail(`--frequencies ${opts.frequencies}: no such file.`);
if (!['classify', 'retrieve'].includes(opts.task!)) fail('--task must be classify or retrieve.');
if (opts['cpu-profile'] && (multi || opts.task !== 'classify'))
  fail('--cpu-profile profiles a classification with one --model.');
if (opts.metadata && !fs.existsSync(opts.metadata)) fail(`--metadata ${opts.metadata}: no such file.`);
const sliceBy = (opts['slice-by'] ?? '')
  .split(',')
  .map((c) => c.trim())
  .filter(Boolean);
if (opts['label-column'] && !opts.metadata) fail('--label-column needs --metadata <file>.');
if (sliceBy.length > 0 && !opts.metadata) fail('--slice-by needs --metadata <file>.');
checkCaptionsArg(opts.captions, fail);

/** A local model folder is served by the app's own server (MODELS_DIR = its parent). */
const isDir = (m: string) => fs.existsSync(m) && fs.statSync(m).isDirectory();
for (const m of modelArgs.filter(isDir))
  if (!fs.existsSync(path.join(m, 'config.json'))) fail(`${m} has no config.json.`);
const modelDirs = modelArgs.filter(isDir).map((m) => path.resolve(m));
if (new Set(modelDirs.map((d) => path.dirname(d))).size > 1)
  fail(`model folders are served from one parent folder: put ${modelDirs.join(', ')} side by side.`);
const modelDir = modelDirs[0] ?? null;

async function main() {
  const app = await serveBuiltApp({
    outDir: '.cache/bench-dist',
    rebuild: !opts['no-build'],
    modelsDir: modelDir ? path.dirname(modelDir) : undefined,
    port: Number(opts.port),
  });
  const appUrl = app.url;

  const sourceOf = (m: string): ModelSource =>
    isDir(m)
      ? urlSource(`${appUrl}/models/${encodeURIComponent(path.basename(m))}/`, 'server', path.basename(m))
      : /^https?:\/\//.test(m)
        ? urlSource(m)
        : hubSource(m);
  const source = sourceOf(modelArgs[0]!);

  fs.mkdirSync(opts.profile!, { recursive: true });
  const browser = await launchPersistent(path.resolve(opts.profile!));
  let peakMb = 0;
  const sampler = setInterval(() => {
    // The whole browser: every process under this one (Chromium's renderer, GPU and utility processes), not
    // this Node process, which serves the app. Linux only: elsewhere the peak stays unknown (null).
    try {
      peakMb = Math.max(peakMb, treeMemory(process.pid, false).pss / 2 ** 20);
    } catch {
      // no /proc
    }
  }, 500);
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    // The profile's service worker from an earlier run would serve the build it cached on the first
    // navigation, not the one just built: drop it, so each run registers a fresh one as a new visitor's does.
    // (Its caches stay: the model files downloaded there are the app's own, not the worker's.)
    const cdp = await browser.newCDPSession(page);
    await cdp.send('Storage.clearDataForOrigin', { origin: appUrl, storageTypes: 'service_workers' });
    await cdp.detach();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    if (process.env.BENCH_DEBUG) page.on('console', (m) => console.log(m.text()));
    await page.addInitScript(LONG_TASKS);
    await page.addInitScript(FRAME_WATCH);
    await page.goto(`${appUrl}/?mode=${multi ? 'compare' : 'classify'}`);
    await page.waitForFunction(() => 'zsw' in window);
    if (multi) {
      const scalars = parseModelScalars(opts['model-scalars'] ?? [], fail);
      const { templates, backend, dtype, out } = opts as Required<typeof opts>;
      await benchMulti(
        page,
        {
          task: opts.task as 'classify' | 'retrieve',
          captions: opts.captions,
          frequencies: opts.frequencies,
          sources: modelArgs.map(sourceOf),
          dataDir,
          templates,
          backend,
          dtype,
          scalars,
          out,
        },
        fail,
      );
      return;
    }
    if (opts.resize === 'browser') await page.evaluate(() => (window.zsw.engine.resizeMode = 'browser'));
    if (opts['no-cache'])
      await page.evaluate(() => {
        window.zsw.classify.useCache = false;
        window.zsw.retrieve.useCache = false;
      });

    const loaded = await page.evaluate(([s, b, d]) => window.zsw.engine.load(s, b, d), [
      source,
      opts.backend,
      opts.dtype,
    ] as const);
    if (!loaded) {
      const err = await page.evaluate(() => window.zsw.engine.error);
      fail(`the model did not load: ${err?.message ?? 'unknown error'}`);
    }
    // Scoring scalars the model's files lack (SigLIP exports): as entered on the model card.
    const scalars = [opts['logit-scale'], opts['logit-bias']].map((v) => (v === undefined ? null : Number(v)));
    if (scalars.some((v) => v !== null && !Number.isFinite(v))) fail('--logit-scale and --logit-bias take numbers.');
    await page.evaluate(([sc, b]) => window.zsw.engine.setScalars(sc ?? null, b ?? null), scalars);

    if (opts.task === 'retrieve') {
      const r = await benchRetrieve(
        page,
        { dataDir, captions: opts.captions, queries: Number(opts.queries), frequencies: opts.frequencies },
        fail,
      );
      // Long tasks of the run itself; the timed searches afterwards render thumbnails and are not counted.
      r.results.bench = benchRecord(r.wallMs, r.runMainThread, r.runFrameGap, peakMb, pageErrors);
      fs.writeFileSync(opts.out!, JSON.stringify(r.results, null, 1));
      console.log(`${r.line} · peak ${Math.round(peakMb)} MB → ${opts.out}`);
      printMainThread('run', r.runMainThread);
      return;
    }
    // The same intake as the UI: the folder goes into the page's <input webkitdirectory>. Its main-thread
    // figures (the pick, the layout, the hashing) are counted apart from the run's.
    await resetLongTasks(page);
    const profiler = opts['cpu-profile'] ? await startCpuProfile(page) : null;
    const imported = opts.embeddings ? await importEmbeddings(page, dataDir, 'classify', fail) : null;
    if (!imported) await page.getByTestId('folder-input').setInputFiles(dataDir);
    await page.waitForFunction(() => window.zsw.classify.dataset !== null || window.zsw.classify.error !== null);
    // A folder without class subfolders takes its labels from --metadata (as a file picked in the panel);
    // one with subfolders does when --label-column says which column (its subfolders are not classes).
    const flat = await page.evaluate(() => window.zsw.classify.flatFolder);
    const labelled = opts.metadata !== undefined && (flat || opts['label-column'] !== undefined);
    if (opts.metadata && !labelled && sliceBy.length === 0)
      fail(
        '--metadata needs --slice-by <column>[,<column>], or --label-column <column> to take the labels from it ' +
          '(a --data folder without class subfolders takes them without).',
      );
    if (labelled && opts.metadata) {
      const text = fs.readFileSync(opts.metadata, 'utf8');
      await page.evaluate(
        ([n, t, c]) => window.zsw.classify.useLabelMetadata(n!, t!, c ?? null),
        [path.basename(opts.metadata), text, opts['label-column']],
      );
    }
    const intakeError = await page.evaluate(() => window.zsw.classify.error);
    if (intakeError) fail(`${opts.data}: ${intakeError.message}${labelled ? ' (name it with --label-column)' : ''}`);
    await chooseTemplates(page, opts.templates!);
    // Hashing starts when the folder is picked, as in the app, where a user sets classes and
    // templates meanwhile; the bench waits for it and reports it as `index_ms`, apart from the run.
    await page.waitForFunction(() => window.zsw.classify.indexing?.ms != null, null, { timeout: 600_000 });
    if (opts.classnames) {
      await page.getByTestId('names-input').setInputFiles(path.resolve(opts.classnames));
      await page.waitForFunction(() => window.zsw.classify.classNamesSource !== 'folder names');
      const err = await page.evaluate(() => window.zsw.classify.error);
      if (err) fail(`${opts.classnames}: ${err.message}`);
    }

    const intake = { frameGap: await longestFrameGap(page), ...(await mainThreadSinceReset(page)) };
    const runStart = Date.now();
    if (process.env.BENCH_DEBUG) console.log('start at', await page.evaluate(() => performance.now()));
    await resetLongTasks(page);
    const ok = await page.evaluate((n) => window.zsw.classify.start(n ?? undefined), limit);
    if (profiler) await profiler.stop(opts['cpu-profile']!);
    if (!ok) {
      const err = await page.evaluate(() => window.zsw.classify.error);
      fail(`the run failed: ${err?.message ?? 'unknown error'}`);
    }
    const wallMs = Date.now() - runStart;
    // Read before the results JSON is made in the page for this script, which holds a frame itself.
    const frameGap = await longestFrameGap(page);
    const mainThread = await mainThreadSinceReset(page);
    const results = (await page.evaluate(() => window.zsw.classify.resultsJson())) as Record<string, unknown>;
    if (opts.frequencies) {
      // The same import and fit as the Concept frequency view; r and slope over the per-class points.
      const text = fs.readFileSync(opts.frequencies, 'utf8');
      const name = path.basename(opts.frequencies);
      const ok = await page.evaluate(([n, t]) => window.zsw.frequency.importText(n, t), [name, text] as const);
      if (!ok) fail(`${opts.frequencies}: ${(await page.evaluate(() => window.zsw.frequency.error))?.message}`);
      const f = await page.evaluate(() => window.zsw.frequency.summary());
      results.frequency = f ? { ...f, source: name } : { error: 'fewer than 3 matched classes with different counts' };
    }
    if (opts.metadata && sliceBy.length > 0) results.slices = await sliceResults(page, opts.metadata, sliceBy);
    if (imported) results.embeddings = imported;
    results.bench = benchRecord(wallMs, mainThread, frameGap, peakMb, pageErrors, intake);
    // On WASM the text tower's session is made at the first text after the load: its time is in the texts'.
    const textTower = await page.evaluate(() => window.zsw.engine.textTower());
    (results.bench as Record<string, unknown>).text_tower = textTower;
    // How the load read each tower's file: split as it was read, or whole (engine/tower-files.ts).
    const loadedFrom = await page.evaluate(() => window.zsw.engine.loadedFrom());
    (results.bench as Record<string, unknown>).load_read = loadedFrom;
    fs.writeFileSync(opts.out!, JSON.stringify(results, null, 1));
    const m = results.metrics as { acc1: number; acc5: number | null; mean_per_class_recall: number };
    const t = results.timing as {
      images_per_sec: number | null;
      total_ms: number;
      embed_texts_ms: number;
      index_ms: number | null;
      cache_reads_per_sec: number | null;
    };
    const c = results.cache as { image_hits: number; image_misses: number; text_hits: number; text_misses: number };
    const d = results.dataset as { evaluated: number; classes: number; failed: unknown[] };
    console.log(
      `acc1 ${(100 * m.acc1).toFixed(2)}% · acc5 ${m.acc5 === null ? '—' : `${(100 * m.acc5).toFixed(2)}%`} · ` +
        `mean per-class recall ${(100 * m.mean_per_class_recall).toFixed(2)}% · ${d.evaluated} images, ${d.classes} classes` +
        `${d.failed.length ? `, ${d.failed.length} failed` : ''} · ${t.images_per_sec ?? '—'} images/s · ` +
        `backend ${String(results.backend)} (${String(results.dtype)}) · ${familyNote(results)} · ` +
        `${loadedFrom ? `load read the files as text ${loadedFrom.text}, vision ${loadedFrom.vision} · ` : ''}peak ${Math.round(peakMb)} MB · ` +
        `longest main-thread task ${Math.max(0, ...mainThread.tasks.map((x) => x.ms))} ms · longest wait for a frame ` +
        `${Math.round(frameGap.ms)} ms (folder intake: ${Math.max(0, ...intake.tasks.map((x) => x.ms))} ms, ` +
        `${Math.round(intake.frameGap.ms)} ms) · run ${t.total_ms} ms ` +
        `(texts ${t.embed_texts_ms} ms${textTower?.loadMs.length ? `, text tower loaded in ${textTower.loadMs.map(Math.round).join(', ')} ms, read as ${textTower.loadedFrom.join(', ')}` : ''}) · hashing at intake ${t.index_ms} ms · ` +
        `cache reads ${t.cache_reads_per_sec ?? '—'}/s · cache: images ${c.image_hits} hit / ${c.image_misses} encoded, ` +
        `prompts ${c.text_hits} hit / ${c.text_misses} encoded` +
        (results.frequency
          ? ` · frequency: r ${(results.frequency as { pearson_r: number }).pearson_r?.toFixed(4)}, slope/decade ` +
            `${(results.frequency as { slope_per_decade: number }).slope_per_decade?.toFixed(4)}`
          : '') +
        ` → ${opts.out}`,
    );
    printMainThread('folder intake', intake);
    printMainThread('run', mainThread);
  } finally {
    clearInterval(sampler);
    await browser.close();
    await app.close();
  }
}

/**
 * The Slices view's figures for `--slice-by` columns: the metadata goes through the same intake and
 * slice code as a file picked in the view (`{ <column>: { groups, worst, best, gap, gap_ci95, gap_p_value } }`).
 */
async function sliceResults(page: Page, file: string, columns: string[]): Promise<Record<string, unknown>> {
  const name = path.basename(file);
  const ok = await page.evaluate(([n, t]) => window.zsw.slices.importText(n, t), [
    name,
    fs.readFileSync(file, 'utf8'),
  ] as const);
  if (!ok) fail(`--metadata ${file}: ${(await page.evaluate(() => window.zsw.slices.error))?.message}`);
  const unmatched = await page.evaluate(() => window.zsw.slices.match?.unlisted.length ?? 0);
  if (unmatched > 0)
    console.error(`bench: ${unmatched} evaluated images have no row in ${name}; they are in no slice.`);
  try {
    return await page.evaluate((c) => window.zsw.slices.benchJson(c), columns);
  } catch (e) {
    fail(`--slice-by: ${(e instanceof Error ? e.message : String(e)).replace(/^[\s\S]*?Error: /, '')}`);
  }
}

type MainThread = { tasks: LongTask[]; gaps: LongTask[] };

/** Long tasks and waits for a frame of 50 ms or more, with what ran (ms after the count began). */
const listed = (m: MainThread) => ({
  long_task_list: m.tasks.map((t) => ({ at_ms: t.atMs, ms: t.ms, scripts: t.scripts })),
  frame_waits_50ms: m.gaps.map((t) => ({ at_ms: t.atMs, ms: t.ms, frames: t.scripts })),
});

/** Printed after the summary line: each long task and wait for a frame of 50 ms or more. */
function printMainThread(phase: string, m: MainThread): void {
  for (const t of m.tasks)
    console.log(
      `  ${phase}: long task ${t.ms} ms at ${(t.atMs / 1000).toFixed(1)} s; ${t.scripts.join('; ') || 'no script'}`,
    );
  for (const t of m.gaps)
    console.log(
      `  ${phase}: wait for a frame ${t.ms} ms at ${(t.atMs / 1000).toFixed(1)} s; ` +
        `${t.scripts.join('; ') || 'no long animation frame'}`,
    );
}

function benchRecord(
  wallMs: number,
  run: MainThread,
  frameGap: { ms: number; atMs: number },
  peakMb: number,
  pageErrors: string[],
  intake?: MainThread & { frameGap: { ms: number } },
) {
  return {
    data: dataDir,
    limit,
    run_wall_ms: wallMs,
    main_thread: {
      long_tasks: run.tasks.length,
      longest_task_ms: Math.max(0, ...run.tasks.map((t) => t.ms)),
      longest_frame_gap_ms: Math.round(frameGap.ms),
      longest_frame_gap_at_ms: Math.round(frameGap.atMs),
      ...listed(run),
      // From the folder's pick to the end of its hashing (the folder intake), before the run.
      intake: intake && {
        long_tasks: intake.tasks.length,
        longest_task_ms: Math.max(0, ...intake.tasks.map((t) => t.ms)),
        longest_frame_gap_ms: Math.round(intake.frameGap.ms),
        ...listed(intake),
      },
    },
    memory: { peak_browser_pss_mb: peakMb > 0 ? Math.round(peakMb) : null },
    page_errors: pageErrors,
  };
}

/** Preset ids go through the page's template menu; a file through its templates.txt input. */
async function chooseTemplates(page: Page, templates: string): Promise<void> {
  if (isPresetId(templates)) {
    await page.getByTestId('template-choice').selectOption(templates);
    return;
  }
  if (!fs.existsSync(templates)) fail(`--templates ${templates}: not a preset (openai80, openai7, simple) nor a file.`);
  await page.getByTestId('templates-input').setInputFiles(path.resolve(templates));
  await page.waitForFunction(() => window.zsw.classify.templateChoice === 'custom');
  const err = await page.evaluate(() => window.zsw.classify.templateSet.error);
  if (err) fail(err);
}

await main();
