/**
 * The model picker in the real app, in Chromium: loading through a local server with the Hub's URL layout
 * (progress shown), a second load from Cache Storage with that server stopped, and broken model folders
 * that must give a message naming the file while the app stays usable.
 */
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { startHubServer, type LocalServer } from '../helpers/hub-server';
import { makeBrokenModels } from '../helpers/model-fixtures';

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let hub: LocalServer;
let modelsRoot: string;

beforeAll(async () => {
  modelsRoot = makeBrokenModels();
  [browser, app, hub] = await Promise.all([launchChromium(), startBuiltApp(modelsRoot), startHubServer(modelsRoot)]);
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  await hub?.close();
  fs.rmSync(modelsRoot, { recursive: true, force: true });
});

async function loadFromHub(page: Page, id: string, backend = 'wasm'): Promise<void> {
  await page.goto(`${app.url}/?hub=${encodeURIComponent(hub.url)}&model=${encodeURIComponent(id)}&backend=${backend}`);
  await page.getByRole('tab', { name: 'Hugging Face Hub' }).click();
  await page.getByRole('button', { name: 'Load model' }).click();
}

describe('loading from a Hub-layout server', () => {
  let context: BrowserContext;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    errors = watchErrors(page);
  });

  test('first load downloads with per-file progress and shows the model', async () => {
    await loadFromHub(page, 'test-org/tiny-random-clip');
    await expect
      .poll(() => page.getByLabel('Model files').textContent(), { timeout: 60_000 })
      .toMatch(/onnx\/text_model\.onnx/);
    await page.getByTestId('dim').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('dim').textContent()).toBe('16');
    expect(await page.getByTestId('backend').textContent()).toMatch(/WASM/);
    const got = hub.requests.filter((r) => r.startsWith('GET'));
    expect(got).toContain('GET /test-org/tiny-random-clip/resolve/main/onnx/vision_model.onnx');
    expect(got).toContain('GET /test-org/tiny-random-clip/resolve/main/tokenizer.json');
  });

  test('a second load works from the cache with the server stopped', async () => {
    await hub.close();
    await page.reload();
    await loadFromHub(page, 'test-org/tiny-random-clip');
    await page.getByTestId('dim').waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('dim').textContent()).toBe('16');
    expect(errors.filter((e) => !/status of 404|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
    hub = await startHubServer(modelsRoot);
  });
});

describe('broken model folders give a message that names the file', () => {
  const cases: [string, RegExp][] = [
    ['no-tokenizer', /tokenizer\.json was not found .*HTTP 404/],
    ['corrupt-vision', /onnx\/vision_model\.onnx could not be read as an ONNX model/],
    ['corrupt-text', /onnx\/text_model\.onnx could not be read as an ONNX model/],
    ['mismatched-towers', /onnx\/text_model\.onnx gives 16-d embeddings but onnx\/vision_model\.onnx gives 64-d/],
    ['bad-json', /preprocessor_config\.json is not valid JSON/],
  ];
  let page: Page;

  beforeAll(async () => {
    page = await (await browser.newContext()).newPage();
  });

  for (const [name, message] of cases) {
    test(name, async () => {
      await loadFromHub(page, `broken/${name}`);
      const alert = page.getByRole('alert');
      await alert.waitFor({ timeout: 120_000 });
      expect(await alert.textContent()).toMatch(message);
    });
  }

  test('the app stays usable: a good model loads right after', async () => {
    await page.getByRole('button', { name: 'Dismiss' }).click();
    await page.getByRole('tab', { name: 'This app’s server' }).click();
    await page.getByLabel('Model folder').selectOption('tiny-random-clip');
    await page.getByRole('button', { name: 'Load model' }).click();
    await page.getByTestId('dim').waitFor({ timeout: 120_000 });
    expect(await page.getByRole('alert').count()).toBe(0);
  });
});
