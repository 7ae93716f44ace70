/**
 * A retrieval comparison in Chromium (WASM), through the Compare tab: toy-clip-cifar10 (A, CLIP) against
 * toy-siglip-cifar10 (B, SigLIP) on COCO-mini (239 images, 1,195 captions in captions.coco.json).
 * - Each model's Recall@1/5/10 both ways equals its own PyTorch reference (reference/retrieval-coco-mini.json)
 *   within ±0.5 points (text→image) and ±1 point (image→text), as the single-model retrieval test allows.
 * - Per pair, direction and K: the 2×2 table equals the one this test counts from the two models' per-query ranks
 *   in the exported JSON, and is within 3 queries per cell of the one counted from the two references'
 *   per_caption_rank / per_image_rank; McNemar's p equals the exact binomial summed in tests/helpers/mcnemar.ts.
 * - The view: the table, a direction and K switch, an agreement cell opening its captions, the cost chart, exports.
 * The toy models know only CIFAR-10 words, so their retrieval is near chance: this checks the pairing, not quality.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, watchErrors } from '../helpers/browser';
import { startBuiltApp } from '../helpers/app-server';
import { DATASETS, MODELS } from '../helpers/paths';
import { exactMcnemar } from '../helpers/mcnemar';
import { urlSource } from '../../src/data/model-files';
import '../helpers/zsw';

const COCO = path.join(DATASETS, 'coco-mini-captions');
const A = 'toy-clip-cifar10';
const B = 'toy-siglip-cifar10';
const KS = [1, 5, 10] as const;
const DIRS = ['text_to_image', 'image_to_text'] as const;

interface Ref {
  metrics: Record<string, number>;
  per_caption_rank: number[];
  per_image_rank: number[];
}
const ref = (m: string) =>
  JSON.parse(fs.readFileSync(path.join(MODELS, m, 'reference', 'retrieval-coco-mini.json'), 'utf8')) as Ref;

interface Cell {
  n: number;
  both_right: number;
  only_a: number;
  only_b: number;
  both_wrong: number;
  mcnemar_p: number;
  recall_diff: number;
  recall_diff_ci95: [number, number];
}
interface CompareJson {
  compared: string;
  models: (Record<string, number | string | null> & {
    results: {
      per_query: {
        text_to_image: { caption: string; image: string; rank: number }[];
        image_to_text: { image: string; rank: number }[];
      };
    };
  })[];
  comparison: { pairs: ({ a: string; b: string } & Record<(typeof DIRS)[number], Record<string, Cell>>)[] };
}

/** The 2×2 table of "rank ≤ k" over two equally long rank lists (rank 0: no correct item, left out). */
function table(ra: number[], rb: number[], k: number) {
  const t = { both_right: 0, only_a: 0, only_b: 0, both_wrong: 0 };
  ra.forEach((x, i) => {
    if (x <= 0 || rb[i]! <= 0) return;
    const [a, b] = [x <= k, rb[i]! <= k];
    if (a && b) t.both_right++;
    else if (a) t.only_a++;
    else if (b) t.only_b++;
    else t.both_wrong++;
  });
  return t;
}

let browser: Browser;
let app: Awaited<ReturnType<typeof startBuiltApp>>;
let page: Page;
let errors: string[];

beforeAll(async () => {
  [browser, app] = await Promise.all([launchChromium(), startBuiltApp()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  errors = watchErrors(page);
  await page.goto(`${app.url}/?mode=compare`, { timeout: 180_000 });
  await page.waitForFunction(() => 'zsw' in window);
});
afterAll(async () => {
  await browser?.close();
  await app?.server.close();
});

const json = async () => (await page.evaluate(() => window.zsw.compare.comparisonJson())) as unknown as CompareJson;

test('toy CLIP against toy SigLIP on COCO-mini: each model equals its reference; 2×2 tables and McNemar per direction and K', async () => {
  await page.getByTestId('compare-task-retrieve').check();
  await page.getByTestId('compare-folder-input').setInputFiles(path.join(COCO, 'images'));
  await page.waitForFunction(() => window.zsw.compare.retrieval.ret.dataset !== null);
  await page.getByTestId('compare-captions-input').setInputFiles(path.join(COCO, 'captions.coco.json'));
  await expect.poll(() => page.getByTestId('compare-dataset').textContent()).toContain('1195 captions');
  for (const m of [A, B])
    expect(
      await page.evaluate(
        (s) => window.zsw.compare.add(s, 'wasm', 'auto'),
        urlSource(`${app.url}/models/${m}/`, 'server', m),
      ),
    ).toBe(true);
  await page.getByTestId('compare-run').click();
  await page.waitForFunction(() => window.zsw.compare.progress !== null);
  expect(await page.getByTestId('compare-progress').textContent()).toContain(A);
  await page.waitForFunction(() => !window.zsw.compare.running, null, { timeout: 600_000 });
  expect(await page.evaluate(() => window.zsw.compare.error)).toBeNull();

  const j = await json();
  expect(j.compared).toBe('retrieval');
  expect(j.models.map((m) => m.model)).toEqual([A, B]);
  for (const m of j.models) {
    const r = ref(m.model as string);
    for (const k of KS) {
      const [t2i, i2t] = [m[`text_to_image_R@${k}`] as number, m[`image_to_text_R@${k}`] as number];
      console.log(
        `${m.model} R@${k}: text→image ${t2i} (ref ${r.metrics[`text_to_image_R@${k}`]!.toFixed(4)}), ` +
          `image→text ${i2t} (ref ${r.metrics[`image_to_text_R@${k}`]!.toFixed(4)})`,
      );
      expect(Math.abs(t2i - r.metrics[`text_to_image_R@${k}`]!)).toBeLessThanOrEqual(0.005);
      expect(Math.abs(i2t - r.metrics[`image_to_text_R@${k}`]!)).toBeLessThanOrEqual(0.01);
    }
  }
  const [qa, qb] = j.models.map((m) => m.results.per_query);
  const [ra, rb] = [ref(A), ref(B)];
  const pair = j.comparison.pairs[0]!;
  for (const d of DIRS)
    for (const k of KS) {
      const got = pair[d][`R@${k}`]!;
      const appRanks = (q: typeof qa) =>
        d === 'text_to_image' ? q!.text_to_image.map((x) => x.rank) : q!.image_to_text.map((x) => x.rank);
      // Both runs list the queries in the caption file's order (every image decodes in both).
      expect(qa!.text_to_image.map((x) => x.caption)).toEqual(qb!.text_to_image.map((x) => x.caption));
      const fromApp = table(appRanks(qa), appRanks(qb), k);
      const refKey = d === 'text_to_image' ? 'per_caption_rank' : 'per_image_rank';
      const fromRef = table(ra[refKey], rb[refKey], k);
      const cells = { both_right: got.both_right, only_a: got.only_a, only_b: got.only_b, both_wrong: got.both_wrong };
      console.log(
        `${d} R@${k}: app ${JSON.stringify(cells)} · references ${JSON.stringify(fromRef)} · McNemar p ${got.mcnemar_p}`,
      );
      expect(cells).toEqual(fromApp);
      for (const c of Object.keys(fromRef) as (keyof typeof fromRef)[])
        expect(Math.abs(cells[c] - fromRef[c])).toBeLessThanOrEqual(3);
      expect(got.n).toBe(d === 'text_to_image' ? 1195 : 239);
      expect(got.mcnemar_p).toBeCloseTo(exactMcnemar(got.only_a, got.only_b), 12);
      expect(got.recall_diff_ci95[0]).toBeLessThanOrEqual(got.recall_diff);
      expect(got.recall_diff_ci95[1]).toBeGreaterThanOrEqual(got.recall_diff);
    }
  expect(errors).toEqual([]);
}, 700_000);

test('the view: table, direction and K, an agreement cell opens its captions, cost chart, exports', async () => {
  await expect.poll(() => page.getByTestId('compare-table').locator('tbody tr').count()).toBe(2);
  await page.getByTestId('compare-k').selectOption('10');
  const cell = (await json()).comparison.pairs[0]!.text_to_image['R@10']!;
  expect(await page.getByTestId('agree-only_b').textContent()).toBe(String(cell.only_b));
  await page.getByTestId('agree-only_b').click();
  const list = page.getByTestId('query-list');
  await expect.poll(() => list.locator('h3').textContent()).toContain(`(${cell.only_b} captions)`);
  expect(await list.locator('li').count()).toBe(Math.min(40, cell.only_b));
  expect(await list.locator('li img').count()).toBeGreaterThan(0); // each caption with its image
  await list.getByRole('button', { name: 'Close' }).click();

  await page.getByTestId('compare-direction').selectOption('image_to_text');
  const i2t = (await json()).comparison.pairs[0]!.image_to_text['R@10']!;
  expect(await page.getByTestId('agree-both_wrong').textContent()).toBe(String(i2t.both_wrong));
  await page.getByTestId('agree-only_a').click();
  await expect.poll(() => list.locator('h3').textContent()).toContain(`(${i2t.only_a} images)`);

  await expect.poll(() => page.getByTestId('cost-chart').count()).toBe(1);
  expect(await page.getByTestId('cost-chart').getAttribute('aria-label')).toContain('text → image R@10');

  const [dj] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-export-json').click()]);
  const exported = JSON.parse(fs.readFileSync((await dj.path())!, 'utf8')) as CompareJson;
  expect(exported.comparison.pairs[0]!.image_to_text['R@10']).toEqual(i2t);
  const [dc] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-export-csv').click()]);
  const lines = fs
    .readFileSync((await dc.path())!, 'utf8')
    .trim()
    .split('\r\n');
  expect(lines[0]).toBe('model_fullname,model,pretrained,dataset,task,metric,value');
  const r5 = lines.filter((l) => l.includes(',zeroshot_retrieval,image_retrieval_recall@5,'));
  expect(r5).toHaveLength(2);
  expect(Number(r5[1]!.split(',').at(-1))).toBeCloseTo((await json()).models[1]!['text_to_image_R@5'] as number, 6);
  await page.screenshot({
    path: path.join(process.env.SCREENSHOT_DIR ?? '/tmp', 'zsw-compare-retrieval.png'),
    fullPage: true,
  });
  expect(errors).toEqual([]);
});
