/**
 * Chromium's own folder path (src/ui/DropZone.svelte → showDirectoryPicker): "Choose folder…" gets a
 * directory handle and reads it, with progress and cancel. The picker is replaced by one that returns
 * a folder of the page's origin-private file system (OPFS), real directory handles of the same API, filled
 * here with CIFAR-10 dev images. Checked: every image is laid out and hashed; the progress shows while the
 * files are read; a cancel, an unreadable file and a dismissed picker each leave the folder shown before;
 * a drop reads the same way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS } from '../helpers/paths';
import '../helpers/zsw';

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];

const DEV = path.join(DATASETS, 'cifar10/dev');
const CLASSES = ['cat', 'dog', 'ship'];
const PER_CLASS = 30;

/** What the replaced picker does, set by each test: the OPFS folder it returns and how its files read. */
interface PickerScript {
  name: string;
  /** While set, every file read waits for `release()`. */
  gated: boolean;
  /** A file name whose read fails as the browser's does (NotReadableError). */
  failing: string | null;
  /** The user dismisses the picker. */
  dismiss: boolean;
}

/**
 * The replacement picker. Without a gate or a failing file it returns the OPFS handle itself; otherwise a
 * thin wrapper of it whose reads wait or fail. It counts the reads, and records the options it was given.
 */
const PICKER = `(() => {
  const s = (window.__picker = { name: 'pets', gated: false, failing: null, dismiss: false, reads: 0, options: null });
  let open = Promise.resolve();
  s.hold = () => { open = new Promise((r) => (s.release = r)); };
  const wrap = (h) => h.kind === 'file'
    ? { kind: 'file', name: h.name, getFile: async () => {
        s.reads += 1;
        if (s.gated) await open;
        if (h.name === s.failing) throw new DOMException('The file could not be read.', 'NotReadableError');
        return h.getFile();
      } }
    : { kind: 'directory', name: h.name, values: async function* () { for await (const e of h.values()) yield wrap(e); } };
  window.showDirectoryPicker = async (options) => {
    s.options = options;
    if (s.dismiss) throw new DOMException('The user aborted a request.', 'AbortError');
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(s.name);
    return s.gated || s.failing ? wrap(dir) : dir;
  };
})()`;

async function script(p: Partial<PickerScript>): Promise<void> {
  await page.evaluate((p) => {
    const s = (window as unknown as { __picker: PickerScript & { hold(): void } }).__picker;
    Object.assign(s, { gated: false, failing: null, dismiss: false }, p);
    if (s.gated) s.hold();
  }, p);
}

/** Write `files` (path → bytes) into the OPFS folder `name`. */
async function writeOpfsFolder(name: string, files: [string, Buffer][]): Promise<void> {
  await page.evaluate(
    async ({ name, files }) => {
      const root = await navigator.storage.getDirectory();
      await root.removeEntry(name, { recursive: true }).catch(() => undefined);
      const top = await root.getDirectoryHandle(name, { create: true });
      for (const [p, b64] of files) {
        const parts = p.split('/');
        let dir = top;
        for (const d of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(d, { create: true });
        const w = await (await dir.getFileHandle(parts.at(-1)!, { create: true })).createWritable();
        await w.write(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
        await w.close();
      }
    },
    { name, files: files.map(([p, b]) => [p, b.toString('base64')] as [string, string]) },
  );
}

function devImages(classes: string[], n: number): [string, Buffer][] {
  return classes.flatMap((c) =>
    fs
      .readdirSync(path.join(DEV, c))
      .sort()
      .slice(0, n)
      .map((f): [string, Buffer] => [`${c}/${f}`, fs.readFileSync(path.join(DEV, c, f))]),
  );
}

const summary = () => page.getByTestId('dataset-summary').textContent();

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  errors = watchErrors(page);
  await page.addInitScript(PICKER);
  await page.goto(`${app.url}/?backend=wasm`);
  await writeOpfsFolder('pets', [...devImages(CLASSES, PER_CLASS), ['.DS_Store', Buffer.from('x')]]);
  await writeOpfsFolder('planes', devImages(['airplane', 'bird'], 10));
  await page.getByTestId('mode-classify').click();
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
});

test('Choose folder… reads the picked directory: every image, by its path under the folder, then hashed', async () => {
  await script({ name: 'pets' });
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await expect.poll(summary).toMatch(/^pets: 90 images in 3 classes\s*· 1 files skipped/);
  expect(await page.evaluate(() => (window as unknown as { __picker: { options: unknown } }).__picker.options)).toEqual(
    { mode: 'read' },
  );
  const paths = await page.evaluate(() =>
    (window.zsw.classify.dataset as { entries: { path: string }[] }).entries.map((e) => e.path).sort(),
  );
  const want = [...devImages(CLASSES, PER_CLASS).map(([p]) => `pets/${p}`), 'pets/.DS_Store'].sort();
  expect(paths).toEqual(want);
  // Every file's content is readable: the cache's hashing reads them all.
  await expect.poll(() => page.getByTestId('indexing').textContent()).toMatch(/contents hashed in/);
  expect(errors).toEqual([]);
});

test('the read shows its progress; Cancel stops it and keeps the folder shown before', async () => {
  await script({ name: 'planes', gated: true });
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  const reading = page.getByTestId('folder-reading');
  await expect.poll(() => reading.textContent()).toMatch(/Reading the folder\s*0 \/ 20\s*files/);
  await reading.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => reading.count()).toBe(0);
  await page.evaluate(() => (window as unknown as { __picker: { release(): void } }).__picker.release());
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  await expect.poll(summary).toMatch(/^pets: 90 images in 3 classes/);
  expect(await page.getByRole('alert').count()).toBe(0);
  // The reads in flight when it was cancelled finished; no more were asked for.
  const reads = await page.evaluate(() => (window as unknown as { __picker: { reads: number } }).__picker.reads);
  expect(reads).toBeLessThanOrEqual(20);
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  expect(await page.evaluate(() => (window as unknown as { __picker: { reads: number } }).__picker.reads)).toBe(reads);

  // Not cancelled, the same folder is read in full.
  await script({ name: 'planes' });
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await expect.poll(summary).toMatch(/^planes: 20 images in 2 classes/);
});

test('an unreadable file is named, and a dismissed picker changes nothing', async () => {
  await script({ name: 'pets', failing: (await fs.promises.readdir(path.join(DEV, 'dog'))).sort()[3]! });
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  const alert = page.getByRole('alert');
  await expect
    .poll(() => alert.textContent())
    .toMatch(/pets\/dog\/\S+\.jpg could not be read \(NotReadableError: The file could not be read\.\)/);
  await expect.poll(summary).toMatch(/^planes: 20 images in 2 classes/);
  await alert.getByRole('button', { name: 'Dismiss' }).click();

  await script({ name: 'pets', dismiss: true });
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  expect(await page.getByRole('alert').count()).toBe(0);
  await expect.poll(summary).toMatch(/^planes: 20 images in 2 classes/);
});

test('images dropped on the quick demo are read and shown', async () => {
  await page.getByRole('tab', { name: 'Quick demo: a few images, your labels' }).click();
  const [a, b] = devImages(['truck'], 2).map(([, bytes]) => bytes.toString('base64'));
  await page.evaluate(
    ({ a, b }) => {
      const dt = new DataTransfer();
      const file = (b64: string, name: string) =>
        new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, { type: 'image/jpeg' });
      dt.items.add(file(a, 'truck-a.jpg'));
      dt.items.add(file(b, 'truck-b.jpg'));
      dt.items.add(new File(['not an image'], 'notes.txt', { type: 'text/plain' }));
      document
        .querySelector('[aria-label="Drop images"]')!
        .dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { a: a!, b: b! },
  );
  await expect.poll(() => page.getByText('Skipped (not images): notes.txt').count()).toBe(1);
  await expect.poll(() => page.getByRole('img', { name: /truck-[ab]\.jpg/ }).count()).toBe(2);
  expect(errors).toEqual([]);
});
