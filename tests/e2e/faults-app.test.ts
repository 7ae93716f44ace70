/**
 * The fault suite on the production build, in Chromium (toy-clip-cifar10 on WASM, the fault folder of
 * scripts/make-fault-fixtures.ts): broken files fail with their own reason and name, clutter is skipped
 * and counted, markup in names stays text, the rest is classified; images/s counts encoded images
 * only; every request during a run is the app's own; after one visit the app installs, loads the
 * cached model and runs the same evaluation with the network off; the CSP forbids inline scripts.
 * Also: an empty folder, a single class, a 50,000-file folder whose intake stays responsive, and
 * 3,000 files from the folder input hashed without holding the page.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startHubServer, type LocalServer } from '../helpers/hub-server';
import { serveBuiltApp, type BuiltApp } from '../../scripts/serve-built';
import { HTML_NAME, NON_LATIN_NAME, makeFaultFolder, type Expect } from '../../scripts/make-fault-fixtures';
import { MODELS } from '../helpers/paths';
import { isBuildFresh } from '../helpers/built-app';
import { TEST_DIST } from '../helpers/app-server';
import '../helpers/zsw';

const OUT_DIR = TEST_DIST;
let browser: Browser;
let app: BuiltApp;
let hub: LocalServer;
let context: BrowserContext;
let page: Page;
let errors: string[];
let tmp: string;
let faultDir: string;
let expected: Map<string, Expect>;
const requests: { url: string; method: string; fromSw: boolean; at: number }[] = [];
let online: Results;

interface Results {
  dataset: {
    images: number;
    evaluated: number;
    failed: { file: string; reason: string }[];
    notes: { file: string; reason: string }[];
    skipped: { file: string; reason: string }[];
  };
  predictions: { file: string; pred: string }[];
  timing: { embed_images_ms: number; images_per_sec: number | null };
  cache: { image_hits: number; image_misses: number };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-faults-'));
  faultDir = path.join(tmp, 'faults');
  expected = makeFaultFolder(faultDir);
  [browser, app, hub] = await Promise.all([
    launchChromium(),
    serveBuiltApp({ outDir: OUT_DIR, modelsDir: MODELS, rebuild: !isBuildFresh(OUT_DIR) }),
    startHubServer(MODELS),
  ]);
  context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  context.on('request', (r: Request) =>
    requests.push({ url: r.url(), method: r.method(), fromSw: r.serviceWorker() !== null, at: Date.now() }),
  );
  await context.addInitScript(() => {
    const w = window as unknown as { __csp: string[]; __longTasks: number[] };
    w.__csp = [];
    w.__longTasks = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
    );
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
  page = await context.newPage();
  errors = watchErrors(page);
}, 600_000); // includes a production build when the sources changed

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await hub?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The toy model from a Hub-layout server, as a user types a Hub id (the picker's default source). */
const appUrl = () => `${app.url}/?backend=wasm&hub=${encodeURIComponent(hub.url)}&model=test/toy-clip-cifar10`;

async function loadToyModel(p: Page): Promise<void> {
  await p.getByRole('tab', { name: 'Hugging Face Hub' }).click();
  await p.getByRole('button', { name: 'Load model' }).click();
  await p.getByTestId('dim').waitFor({ timeout: 120_000 });
  await p.getByTestId('mode-classify').click();
}

async function runAndWait(p: Page): Promise<Results> {
  await p.getByTestId('run-classification').click();
  await p.waitForFunction(() => !window.zsw.classify.running && window.zsw.classify.run !== null, null, {
    timeout: 180_000,
  });
  await p.getByTestId('acc1').waitFor();
  return (await p.evaluate(() => window.zsw.classify.resultsJson())) as unknown as Results;
}

const byKind = (k: Expect['kind']) => [...expected].filter(([, e]) => e.kind === k);

test('the fault folder: each broken file fails with its own reason, clutter is skipped and counted, the rest is classified', async () => {
  await page.goto(appUrl());
  // The service worker precaches the app shell during this first visit.
  expect(await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active !== null))).toBe(true);
  await loadToyModel(page);

  await page.getByTestId('folder-input').setInputFiles(faultDir);
  const images = byKind('image').length + byKind('failed').length;
  const skipped = byKind('skipped');
  await expect
    .poll(() => page.getByTestId('dataset-summary').textContent())
    .toMatch(new RegExp(`${images} images in 2 classes\\s*· ${skipped.length} files skipped`));
  await page.getByRole('button', { name: `${skipped.length} files skipped` }).click();
  for (const [file] of skipped) expect(await page.getByText(file, { exact: true }).count(), file).toBe(1);

  const before = requests.length;
  const res = await runAndWait(page);
  const during = requests.slice(before);

  // Exactly the broken files failed, each with its specific reason naming it; everything else scored.
  const failed = new Map(res.dataset.failed.map((f) => [f.file, f.reason]));
  expect([...failed.keys()].sort()).toEqual(
    byKind('failed')
      .map(([f]) => f)
      .sort(),
  );
  for (const [file, e] of byKind('failed')) {
    const reason = failed.get(file)!;
    expect(reason, file).toMatch((e as { reason: RegExp }).reason);
    expect(reason.startsWith(`${file}: `), reason).toBe(true);
  }
  expect(res.dataset.evaluated).toBe(byKind('image').length);
  expect(res.predictions.map((p) => p.file).sort()).toEqual(
    byKind('image')
      .map(([f]) => f)
      .sort(),
  );
  expect(res.dataset.skipped.map((s) => s.file).sort()).toEqual(skipped.map(([f]) => f).sort());
  console.log(`fault folder reasons:\n${res.dataset.failed.map((f) => `  ${f.reason}`).join('\n')}`);
  // The animated GIF is evaluated on its first frame, and the results say so (the CMYK JPEG is just evaluated).
  expect(res.dataset.notes).toEqual([
    { file: 'cat/animated.gif', reason: 'animated GIF: only the first of its 3 frames was evaluated' },
  ]);

  // The Errors view lists them; a file name with markup is text, never an element.
  await page.getByRole('tab', { name: 'Errors' }).click();
  for (const [file] of byKind('failed')) expect(await page.getByText(file).count(), file).toBeGreaterThan(0);
  expect(await page.getByTestId('image-notes').textContent()).toContain(
    'cat/animated.gif: animated GIF: only the first',
  );
  await page.getByRole('tab', { name: 'Per class' }).click();
  await page.getByRole('button', { name: /^dog: accuracy/ }).click();
  await page.getByRole('region', { name: 'Images of dog' }).waitFor();
  expect(await page.evaluate(() => 'xssProbe' in window || '__xss' in window)).toBe(false);
  expect(await page.locator('img[src="x"]').count()).toBe(0);
  const gallery = page.getByRole('region', { name: 'Images of dog' });
  await expect.poll(() => gallery.getByText(`dog/${HTML_NAME}`, { exact: true }).count()).toBe(1);
  expect(await gallery.getByText(`dog/${NON_LATIN_NAME}`, { exact: true }).count()).toBe(1);

  // images/s: the encoded images over the encoding time, as in the JSON.
  expect(res.cache.image_misses).toBe(byKind('image').length);
  const shown = Number((await page.getByTestId('speed').textContent())!.replace(/ img\/s$/, ''));
  expect(shown).toBeCloseTo(res.timing.images_per_sec!, 0);

  // During the run the page asked for nothing but its own code (a worker's script) and the model's
  // files (here all loaded before): no other host, nothing sent.
  for (const r of during) {
    expect(r.method, r.url).toBe('GET');
    const ok = r.url.startsWith(`${app.url}/assets/`) || r.url.startsWith(`${hub.url}/test/toy-clip-cifar10/`);
    expect(ok, r.url).toBe(true);
  }
  console.log(`requests during the run: ${during.map((r) => r.url).join(', ') || 'none'}`);
  online = res;

  // Re-run with other templates: no image is encoded, so the header shows no rate at all.
  await page.getByTestId('template-choice').selectOption('simple');
  const beforeAgain = requests.length;
  const again = await runAndWait(page);
  // Model cached and the workers' code loaded: this evaluation makes no request at all (blob: URLs are the
  // page's own thumbnails of local files, never a network request).
  expect(
    requests
      .slice(beforeAgain)
      .map((r) => r.url)
      .filter((u) => !/^(blob|data):/.test(u)),
  ).toEqual([]);
  expect(again.cache).toMatchObject({ image_hits: byKind('image').length, image_misses: 0 });
  expect(again.dataset.notes).toEqual(res.dataset.notes); // said from the file, not from the decode
  expect(await page.getByTestId('speed').textContent()).toBe('cached');
  expect(errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
}, 600_000);

test('offline: after one visit, the app opens, loads the cached model and runs the same evaluation', async () => {
  const cdp = await context.newCDPSession(page);
  const { installabilityErrors: installErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
    installabilityErrors: { errorId: string }[];
  };
  // 'in-incognito' only says this test context keeps no profile; anything else is a real defect.
  expect(installErrors.map((e) => e.errorId).filter((id) => id !== 'in-incognito')).toEqual([]);
  const manifest = await page.evaluate(async () => {
    const href = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')!.href;
    return (await fetch(href)).json() as Promise<{ name: string; display: string }>;
  });
  expect(manifest).toMatchObject({ name: 'Zero-Shot Workbench', display: 'standalone' });

  await context.setOffline(true);
  // Offline, a request that reaches for the network fails; one the service worker answers is marked so.
  const failed: string[] = [];
  const viaNetwork: string[] = [];
  context.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()} (${r.failure()?.errorText})`));
  context.on('requestfinished', (r) => {
    void r.response().then((res) => {
      if (res && !res.fromServiceWorker() && !/^(blob|data):/.test(r.url())) viaNetwork.push(r.url());
    });
  });
  await page.goto(appUrl());
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  await loadToyModel(page);
  await page.getByTestId('folder-input').setInputFiles(faultDir, { timeout: 120_000 });
  await page.getByTestId('template-choice').selectOption('openai80');
  const res = await runAndWait(page);
  expect(res.predictions).toEqual(online.predictions);
  expect(res.dataset.failed).toEqual(online.dataset.failed);
  // Nothing reached for the network: the shell came from the service worker, the model from Cache Storage.
  // The one exception: the app asking its own server which models it serves (the model picker's list),
  // answered from the service worker's cache only once a controlled page has fetched it.
  expect(failed.filter((f) => !f.startsWith(`GET ${app.url}/models/index.json `))).toEqual([]);
  expect(viaNetwork).toEqual([]);
  await context.setOffline(false);
}, 600_000);

test('CSP: no inline scripts (wasm-unsafe-eval allowed), and nothing in the suite violated it', async () => {
  const html = fs.readFileSync(path.join(OUT_DIR, 'index.html'), 'utf8');
  const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  expect(csp).toBeDefined();
  const script = /script-src ([^;]+)/.exec(csp!)![1]!;
  expect(script).not.toMatch(/'unsafe-inline'|'unsafe-eval'|\*/);
  expect(script).toMatch(/'wasm-unsafe-eval'/);
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is a file
  // @stdlib's feature test of eval() (its evalpoly factory falls back without it) is blocked, as it
  // should be, and logged; nothing else may be.
  const violations = await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
  console.log(`CSP violations (blocked): ${violations.join('; ') || 'none'}`);
  expect(violations.filter((v) => !v.startsWith('script-src eval '))).toEqual([]);
});

test('an empty folder and a folder with a single class say what is wrong', async () => {
  const empty = path.join(tmp, 'empty-folder');
  fs.mkdirSync(path.join(empty, 'nothing-here'), { recursive: true });
  fs.writeFileSync(path.join(empty, 'nothing-here', '.DS_Store'), 'x');
  await page.getByTestId('folder-input').setInputFiles(empty, { timeout: 120_000 });
  await expect
    .poll(() => page.getByRole('alert').first().textContent())
    .toMatch(/No images in class folders were found/);
  await page.getByRole('button', { name: 'Dismiss' }).first().click();

  const single = path.join(tmp, 'single');
  fs.mkdirSync(path.join(single, 'only-cats'), { recursive: true });
  fs.copyFileSync(path.join(faultDir, 'cat/one-pixel.png'), path.join(single, 'only-cats/a.png'));
  await page.getByTestId('folder-input').setInputFiles(single, { timeout: 120_000 });
  await expect
    .poll(() => page.getByRole('alert').first().textContent())
    .toMatch(/Only one class folder \(“only-cats”\)/);
});

test('50,000 files: intake stays responsive and shows progress', async () => {
  // The picked list is made in the page (the browser's own folder enumeration is not the app's code):
  // 50 class folders of 1,000 small files, each with its own content, handed to the same intake.
  await page.evaluate(() => {
    const entries: { path: string; file: File }[] = [];
    for (let i = 0; i < 50_000; i++) {
      const c = String(i % 50).padStart(2, '0');
      entries.push({ path: `big/class-${c}/${i}.jpg`, file: new File([`not really a photo ${i}`], `${i}.jpg`) });
    }
    (window as unknown as { __entries: unknown }).__entries = entries;
  });
  // Only the app's intake is timed from here on, not the making of the list above.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 100)));
  await page.evaluate(() => ((window as unknown as { __longTasks: number[] }).__longTasks.length = 0));
  const ms = await page.evaluate(async () => {
    const t0 = performance.now();
    const w = window as unknown as { __entries: unknown; zsw: { classify: { setFolder(e: unknown): Promise<void> } } };
    await w.zsw.classify.setFolder(w.__entries);
    return performance.now() - t0;
  });
  await expect.poll(() => page.getByTestId('dataset-summary').textContent()).toMatch(/50000 images in 50 classes/);
  // Progress of reading the files is shown, and the page answers a frame within 100 ms meanwhile.
  await expect.poll(() => page.getByTestId('indexing').textContent()).toMatch(/[\d,]+\s*\/\s*50,000|hashed in/);
  const frameMs = await page.evaluate(() => {
    const t = performance.now();
    return new Promise<number>((r) => requestAnimationFrame(() => r(performance.now() - t)));
  });
  await page.evaluate(() => new Promise((r) => setTimeout(r, 2000))); // two seconds of hashing
  const longTasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
  console.log(
    `50,000 files: set in ${ms.toFixed(0)} ms; a frame in ${frameMs.toFixed(0)} ms while hashing; ` +
      `${await page.getByTestId('indexing').textContent()}; longest main-thread task ${Math.max(0, ...longTasks).toFixed(0)} ms`,
  );
  expect(frameMs).toBeLessThan(100);
  // The folder is laid out once (40–90 ms in Node for 50,000 paths), then a task boundary, then the class
  // names and the start of hashing (chunked). Measured: no task ≥ 50 ms on a 2-core machine (setFolder 84 ms
  // in all); before, one task of 173 ms (two layouts in one task). 150 ms leaves room for a slower CI.
  expect(Math.max(0, ...longTasks)).toBeLessThan(150);
});

test('a folder from the folder input is hashed without holding the page: no frame waits 250 ms', async () => {
  // Chromium's <input webkitdirectory> Files have no size until asked, and each ask is a synchronous
  // call to the browser (~0.2 ms). Asked for every file in one pass before the first read, 3,000 of
  // them held the page for 526–729 ms from the change event to the next frame (4 runs, one in this
  // suite); read in slices of ~20 ms with task boundaries, the longest wait was 60–71 ms.
  const dir = fakeImageFolder('input-3000', 3000);
  // The longest gap between frames from the change event (after the browser's own work of making the
  // file list, which is not the app's) until the hashes are done.
  await page.evaluate(() => {
    const w = window as unknown as { __frameGap: number };
    w.__frameGap = 0;
    let last = 0;
    document.addEventListener(
      'change',
      () => {
        w.__frameGap = 0;
        last = performance.now();
      },
      { capture: true, once: true },
    );
    const frame = () => {
      const now = performance.now();
      if (last) w.__frameGap = Math.max(w.__frameGap, now - last);
      last = now;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
  const notes = await watchIndexingNote();
  await page.getByTestId('folder-input').setInputFiles(dir);
  await expect.poll(() => page.getByTestId('dataset-summary').textContent()).toMatch(/3000 images in 3 classes/);
  await expect.poll(() => page.getByTestId('indexing').textContent(), { timeout: 60_000 }).toMatch(/hashed in/);
  const gap = await page.evaluate(() => (window as unknown as { __frameGap: number }).__frameGap);
  console.log(`3,000 files from the folder input: longest wait for a frame while hashing ${gap.toFixed(0)} ms`);
  expect(gap).toBeGreaterThan(0);
  expect(gap).toBeLessThan(250);
  // The note under the summary told the size pass (about 0.6 s here), then the reads, then the time.
  const seen = (await notes()).filter((t) => /\/ 3,000|hashed in/.test(t));
  const sizing = seen.findIndex((t) => /checking file sizes: [\d,]+ \/ 3,000/.test(t));
  const reading = seen.findIndex((t) => /reading file contents for the cache: [\d,]+ \/ 3,000/.test(t));
  console.log(
    `the hashing note: ${reading - sizing} texts of the size pass (${seen[sizing]} … ${seen[reading - 1]}), then ` +
      `${seen.length - 1 - reading} of the reads (${seen[reading]} … ${seen.at(-2)}), then ${seen.at(-1)}`,
  );
  expect(sizing).toBeGreaterThanOrEqual(0);
  expect(reading).toBeGreaterThan(sizing);
  expect(seen.slice(reading).some((t) => /checking file sizes/.test(t))).toBe(false);
  expect(seen.at(-1)).toMatch(/contents hashed in/);
});

test('a folder picked while the previous one is hashed stops that hashing', async () => {
  // 3,000 files, then at once a small folder: the first folder's reads stop (a 50,000-file folder reads
  // for about a minute, and its reads would slow the new one's hashing).
  const big = path.join(tmp, 'input-3000');
  expect(fs.existsSync(big)).toBe(true); // made by the test before
  const small = fakeImageFolder('input-small', 30);
  await page.evaluate(() => {
    const w = window as unknown as { __reads: Record<string, number> };
    w.__reads = {};
    const read = Blob.prototype.arrayBuffer;
    Blob.prototype.arrayBuffer = function (this: Blob) {
      const root = this instanceof File ? this.webkitRelativePath.split('/')[0]! : '';
      w.__reads[root] = (w.__reads[root] ?? 0) + 1;
      return read.call(this);
    };
  });
  const reads = () => page.evaluate(() => ({ ...(window as unknown as { __reads: Record<string, number> }).__reads }));
  await page.getByTestId('folder-input').setInputFiles(big);
  // Its hashing has begun (sizes or reads; all 3,000 take about 2 s).
  await expect.poll(() => page.getByTestId('indexing').textContent()).toMatch(/[\d,]+ \/ 3,000/);
  await page.getByTestId('folder-input').setInputFiles(small);
  await expect.poll(() => page.getByTestId('dataset-summary').textContent()).toMatch(/30 images in 3 classes/);
  await expect.poll(() => page.getByTestId('indexing').textContent(), { timeout: 60_000 }).toMatch(/hashed in/);
  const atEnd = await reads();
  await new Promise((r) => setTimeout(r, 1500));
  const later = await reads();
  console.log(`reads after a second pick: ${JSON.stringify(atEnd)}, 1.5 s later ${JSON.stringify(later)}`);
  expect(later['input-small']).toBe(30);
  expect(later['input-3000'] ?? 0).toBe(atEnd['input-3000'] ?? 0);
  expect(later['input-3000'] ?? 0).toBeLessThan(3000);
});

/** A folder `name` in the temp folder: `n` small files named .jpg in 3 class folders (never decoded here). */
function fakeImageFolder(name: string, n: number): string {
  const dir = path.join(tmp, name);
  for (let i = 0; i < n; i++) {
    const cls = path.join(dir, `class-${i % 3}`);
    if (i < 3) fs.mkdirSync(cls, { recursive: true });
    fs.writeFileSync(path.join(cls, `${i}.jpg`), `not really a photo ${i}`);
  }
  return dir;
}

/** Records each text the hashing note under the dataset summary shows, from now on. */
async function watchIndexingNote(): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { __notes: string[] };
    w.__notes = [];
    new MutationObserver(() => {
      const t = document.querySelector('[data-testid="indexing"]')?.textContent?.replace(/\s+/g, ' ').trim();
      if (t && t !== w.__notes.at(-1)) w.__notes.push(t);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  return () => page.evaluate(() => (window as unknown as { __notes: string[] }).__notes);
}
