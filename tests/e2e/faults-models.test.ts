/**
 * Model faults on the production build in Chromium, through the model picker and a local server with
 * the Hub's URL layout
 * (non-ONNX file, missing tokenizer and mismatched towers are in model-loading.test.ts):
 * a Hub id that does not exist (404), a private or gated one (401, 403), a download cut off halfway
 * (resumed with a Range request; only the whole file is cached), one cut off every time (a message,
 * nothing cached), an operator no backend runs (named, the other backend offered), and a browser
 * without a WebGPU adapter (WASM used and shown).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHROMIUM_ARGS, launchChromium } from '../helpers/browser';
import { serveBuiltApp, type BuiltApp } from '../../scripts/serve-built';
import { isBuildFresh } from '../helpers/built-app';
import { TEST_DIST } from '../helpers/app-server';
import { startHubServer, type HubFault, type LocalServer } from '../helpers/hub-server';
import { makeBrokenModels } from '../helpers/model-fixtures';
import { unsupportedOpModel } from '../helpers/onnx-bytes';
import '../helpers/zsw';

let browser: Browser;
let app: BuiltApp;
let hub: LocalServer;
let root: string;
let page: Page;

const VISION = 'onnx/vision_model.onnx';
const fault: HubFault = (model, file, attempt) => {
  if (model === 'private-or-missing') return 401;
  if (model === 'gated') return 403;
  if (model === 'flaky' && file === VISION && attempt === 1) return 'cut';
  if (model === 'always-cut' && file === VISION) return 'cut';
  return undefined;
};

function copyTiny(name: string): string {
  const to = path.join(root, name);
  fs.cpSync(path.join(root, 'tiny-random-clip'), to, { recursive: true });
  return to;
}

beforeAll(async () => {
  root = makeBrokenModels();
  for (const name of ['flaky', 'always-cut', 'gated', 'private-or-missing']) copyTiny(name);
  fs.writeFileSync(path.join(copyTiny('unsupported-op'), VISION), unsupportedOpModel());
  [browser, app, hub] = await Promise.all([
    launchChromium(),
    serveBuiltApp({ outDir: TEST_DIST, modelsDir: root, rebuild: !isBuildFresh(TEST_DIST) }),
    startHubServer(root, undefined, undefined, fault),
  ]);
  page = await (await browser.newContext()).newPage();
}, 600_000); // includes a production build when the sources changed

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await hub?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

async function loadFromHub(p: Page, id: string): Promise<void> {
  await p.goto(`${app.url}/?hub=${encodeURIComponent(hub.url)}&model=${encodeURIComponent(id)}&backend=wasm`);
  await p.getByRole('tab', { name: 'Hugging Face Hub' }).click();
  await p.getByRole('button', { name: 'Load model' }).click();
}

async function alertOf(p: Page): Promise<string> {
  const alert = p.getByRole('alert');
  await alert.waitFor({ timeout: 120_000 });
  return (await alert.textContent()) ?? '';
}

/** The bytes Cache Storage holds for a Hub file, or null. */
const cachedBytes = (p: Page, url: string) =>
  p.evaluate(async (u) => {
    const hit = await (await caches.open('zsw-model-files-v1')).match(u);
    return hit ? (await hit.arrayBuffer()).byteLength : null;
  }, url);

describe('Hub errors say what to do', () => {
  test('an id that does not exist (404)', async () => {
    await loadFromHub(page, 'nobody/does-not-exist');
    expect(await alertOf(page)).toMatch(
      /No model “nobody\/does-not-exist” was found on the Hub \(HTTP 404 for config\.json at .*\)\. Check the id/,
    );
  });

  test('a private one (401) and a gated one (403)', async () => {
    await loadFromHub(page, 'someone/private-or-missing');
    expect(await alertOf(page)).toMatch(
      /The Hub refused config\.json of “someone\/private-or-missing” \(HTTP 401\): the model is gated or private, or no model has this id\. This app sends no Hub login/,
    );
    await loadFromHub(page, 'someone/gated');
    const text = await alertOf(page);
    expect(text).toMatch(
      /The Hub refused config\.json of “someone\/gated” \(HTTP 403\): the model is gated or private\./,
    );
    expect(text).toMatch(/download its files and open them under Folder on disk/);
  });
});

describe('downloads cut off halfway', () => {
  test('is resumed or retried, loads, and caches the whole file', async () => {
    await loadFromHub(page, 'test/flaky');
    await page.getByTestId('dim').waitFor({ timeout: 120_000 });
    const size = fs.statSync(path.join(root, 'flaky', VISION)).size;
    const gets = hub.requests.filter((r) => r.startsWith(`GET /test/flaky/resolve/main/${VISION}`));
    // Two requests: the cut one, then a Range request from where it stopped, or the whole file again
    // when the browser dropped the partial body before handing it over.
    expect(gets).toHaveLength(2);
    console.log(`cut-off download retried as: ${gets[1]}`);
    expect(await cachedBytes(page, `${hub.url}/test/flaky/resolve/main/${VISION}`)).toBe(size);
  });

  test('cut off on every try: a message, and no partial file in the cache', async () => {
    await loadFromHub(page, 'test/always-cut');
    expect(await alertOf(page)).toMatch(
      /The download of onnx\/vision_model\.onnx from .* was cut off 3 times .*Nothing partial was kept/,
    );
    expect(await cachedBytes(page, `${hub.url}/test/always-cut/resolve/main/${VISION}`)).toBeNull();
    // The files that did arrive whole are cached as usual.
    expect(await cachedBytes(page, `${hub.url}/test/always-cut/resolve/main/config.json`)).toBeGreaterThan(0);
  });
});

test('an operator the backend cannot run is named, and the other backend offered', async () => {
  await loadFromHub(page, 'test/unsupported-op');
  expect(await alertOf(page)).toMatch(
    /onnx\/vision_model\.onnx uses the operator ZswUnknownOp, which the WASM backend cannot run\. Choose the WebGPU backend and load again/,
  );
});

test('no WebGPU adapter: WASM is used and shown', async () => {
  const noGpu = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS.filter((a) => a !== '--enable-unsafe-webgpu'), '--disable-features=WebGPU'],
  });
  try {
    const p = await noGpu.newPage();
    await p.goto(`${app.url}/?backend=auto`);
    expect(await p.evaluate(async () => (await navigator.gpu?.requestAdapter()) ?? null)).toBeNull();
    await p.getByRole('tab', { name: 'This app’s server' }).click();
    await p.getByLabel('Model folder').selectOption('tiny-random-clip');
    await p.getByRole('button', { name: 'Load model' }).click();
    await p.getByTestId('dim').waitFor({ timeout: 120_000 });
    expect(await p.getByTestId('backend').textContent()).toMatch(/WASM/);
    expect(await p.evaluate(() => window.zsw.engine.info?.backend)).toBe('wasm');
  } finally {
    await noGpu.close();
  }
});
