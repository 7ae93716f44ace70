/**
 * 1,000 classes (ImageNet's CLIP names via classes.json, one image each, with the toy model on WASM):
 * folders that share a display name ("missile", "sunglasses") stay separate classes, the confusion
 * view switches to the 30 most-confused classes plus a top-confusions list, and switching between the
 * views keeps main-thread tasks short.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS } from '../helpers/paths';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let root: string;

beforeAll(async () => {
  const names = JSON.parse(
    fs.readFileSync(path.join(DATASETS, 'clip-prompts/imagenet_classes.json'), 'utf8'),
  ) as string[];
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-1000-'));
  const src = path.join(DATASETS, 'cifar10/dev');
  const pool = fs
    .readdirSync(src)
    .flatMap((c) => fs.readdirSync(path.join(src, c)).map((f) => path.join(src, c, f)))
    .sort();
  const classes = names.map((name, i) => ({ folder: `n${String(i).padStart(4, '0')}`, clip_name: name }));
  classes.forEach((c, i) => {
    fs.mkdirSync(path.join(root, c.folder));
    fs.copyFileSync(pool[i % pool.length]!, path.join(root, c.folder, 'img.jpg'));
  });
  fs.writeFileSync(path.join(root, 'classes.json'), JSON.stringify(classes));
  [browser, app] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: true });
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.server.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('1,000 classes: evaluation, shared names, a confusion view that stays usable', async () => {
  const errors = watchErrors(page);
  await page.goto(`${app.url}/?mode=classify`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${app.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  expect(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)).toBe(true);
  await page.getByTestId('folder-input').setInputFiles(root);
  await expect.poll(() => page.getByTestId('dataset-summary').textContent()).toMatch(/1000 images in 1000 classes/);
  expect(await page.getByText(/Shared display names \(.*missile/).count()).toBe(1);
  await page.getByTestId('template-choice').selectOption('simple');
  await page.getByTestId('run-classification').click();
  await page.getByTestId('acc1').waitFor({ timeout: 300_000 });

  const res = (await page.evaluate(() => window.zsw.classify.resultsJson())) as {
    dataset: { classes: number; class_names: Record<string, string> };
    metrics: { acc5: number; per_class: Record<string, unknown> };
  };
  expect(res.dataset.classes).toBe(1000);
  expect(Object.keys(res.metrics.per_class)).toHaveLength(1000);
  const missiles = Object.values(res.dataset.class_names).filter((n) => n === 'missile');
  expect(missiles).toHaveLength(2);

  await page.evaluate(() => ((window as unknown as { __longTasks: number[] }).__longTasks.length = 0));
  await page.getByRole('tab', { name: 'Confusions' }).click();
  await expect.poll(() => page.getByText(/1000 classes: the heatmap shows the 30 classes/).count()).toBe(1);
  expect(await page.getByRole('gridcell').count()).toBe(900);
  expect(await page.locator('ol.pairs li').count()).toBe(15);
  await page.getByRole('tab', { name: 'Per class' }).click();
  expect(await page.getByRole('button', { name: /: accuracy/ }).count()).toBe(1000);
  const longTasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
  console.log(`1000 classes, view switches: longest task ${Math.max(0, ...longTasks)} ms`);
  expect(errors).toEqual([]);
}, 600_000);
