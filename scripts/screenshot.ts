/**
 * Screenshots of the running app for review: `npx tsx scripts/screenshot.ts <url> <out.png> [width]`.
 * ACTIONS=demo loads the first served model and classifies the sample photos first.
 * ACTIONS=classify DATA=<folder> loads toy-clip-cifar10 (WASM), evaluates DATA and saves one
 * screenshot per result view next to <out.png> (out-classes.png, out-confusion.png, …).
 * ACTIONS=resume (same env) starts a run, reloads mid-run and shows the interrupted-run notice
 * (out-resume.png), then runs again and shows the Storage tab (out.png).
 * ACTIONS=frequency (MODEL=toy-clip-cifar10-skewed, DATA=…/cifar10/dev, FREQ=<counts.json>) runs and
 * shows the Concept frequency view (out.png, and out-binned.png).
 * ACTIONS=retrieve (DATA=<captioned folder>, default COCO-mini; QUERY=<text>) runs retrieval with
 * toy-clip-cifar10 and saves the search (out.png), the caption failures (out-captions.png) and the
 * image failures (out-images.png).
 */
import { launchChromium } from '../tests/helpers/browser';

const [url, out, width] = process.argv.slice(2);
if (!url || !out) throw new Error('usage: screenshot.ts <url> <out.png> [width]');
const browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: Number(width ?? 1366), height: 900 } });
page.on('console', (m) => m.type() === 'error' && console.error('console:', m.text()));
await page.goto(url);

/** Load a model the app's server offers (MODEL overrides). */
async function loadServedModel(model: string): Promise<void> {
  await page.getByRole('tab', { name: 'This app’s server' }).click();
  await page.getByLabel('Model folder').selectOption(process.env.MODEL ?? model);
  await page.getByRole('button', { name: 'Load model' }).click();
  await page.getByTestId('dim').waitFor({ timeout: 120_000 });
}

/** Load a model the app's server offers and open DATA in the Evaluate tab. */
async function openFolder(model: string, simpleTemplate: boolean): Promise<void> {
  await loadServedModel(model);
  await page.getByTestId('mode-classify').click();
  await page.getByTestId('folder-input').setInputFiles(process.env.DATA ?? '../shared/datasets/cifar10/dev');
  if (simpleTemplate) await page.getByTestId('template-choice').selectOption('simple');
}
if (process.env.ACTIONS === 'demo') {
  await page.getByRole('button', { name: 'Load model' }).click();
  await page.getByTestId('dim').waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Try 24 sample photos' }).click();
  await page.getByTestId('image-card').nth(23).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: /^Classify/ }).click();
  await page.locator('[aria-label^="Probabilities for"]').nth(23).waitFor({ timeout: 120_000 });
}
if (process.env.ACTIONS === 'classify') {
  await openFolder('toy-clip-cifar10', false);
  await page.getByTestId('run-classification').click();
  await page.getByRole('group', { name: 'Encoding images' }).waitFor({ timeout: 60_000 });
  await page.waitForTimeout(4000);
  await page.screenshot({ path: out.replace(/\.png$/, '-running.png') });
  await page.getByTestId('acc1').waitFor({ timeout: 600_000 });
  const shots: [string, () => Promise<void>][] = [
    [
      'classes',
      async () =>
        page
          .getByRole('button', { name: /: accuracy/ })
          .first()
          .click(),
    ],
    ['confusion', async () => page.getByRole('tab', { name: 'Confusions' }).click()],
    ['reliability', async () => page.getByRole('tab', { name: 'Calibration' }).click()],
    ['templates', async () => page.getByRole('tab', { name: 'Templates' }).click()],
    [
      'errors',
      async () => {
        await page.getByRole('tab', { name: 'Errors' }).click();
        await page.getByRole('button', { name: 'Show the error gallery' }).click();
      },
    ],
  ];
  for (const [name, act] of shots) {
    await act();
    await page.waitForTimeout(500);
    await page.screenshot({ path: out.replace(/\.png$/, `-${name}.png`), fullPage: true });
  }
}
if (process.env.ACTIONS === 'resume') {
  const load = () => openFolder('toy-clip-cifar10', true);
  await load();
  await page.getByTestId('run-classification').click();
  await page.getByRole('group', { name: 'Encoding images' }).waitFor({ timeout: 60_000 });
  await page.waitForTimeout(5000);
  await page.reload();
  await load();
  await page.getByTestId('interrupted-run').waitFor();
  await page.screenshot({ path: out.replace(/\.png$/, '-resume.png') });
  await page.getByTestId('run-classification').click();
  await page.getByTestId('acc1').waitFor({ timeout: 600_000 });
  await page.getByTestId('mode-storage').click();
  await page.getByTestId('storage-model').first().waitFor();
}
if (process.env.ACTIONS === 'frequency') {
  await openFolder('toy-clip-cifar10-skewed', true);
  await page.getByTestId('run-classification').click();
  await page.getByTestId('acc1').waitFor({ timeout: 600_000 });
  await page.getByRole('tab', { name: 'Concept frequency' }).click();
  await page
    .getByTestId('freq-import')
    .setInputFiles(process.env.FREQ ?? '../shared/models/toy-clip-cifar10-skewed/concept-frequency.json');
  await page.getByTestId('freq-stats').waitFor();
  await page.getByRole('button', { name: /^dog: accuracy/ }).hover();
  await page.getByRole('tabpanel').last().screenshot({ path: out });
  await page.getByTestId('freq-binned').check();
  await page
    .getByRole('tabpanel')
    .last()
    .screenshot({ path: out.replace(/\.png$/, '-binned.png') });
  await browser.close();
  process.exit(0);
}
if (process.env.ACTIONS === 'retrieve') {
  await loadServedModel('toy-clip-cifar10');
  await page.getByTestId('mode-retrieve').click();
  await page
    .getByTestId('retrieval-folder-input')
    .setInputFiles(process.env.DATA ?? '../shared/datasets/coco-mini-captions');
  await page.getByTestId('run-retrieval').click();
  await page.getByTestId('retrieval-metrics').waitFor({ timeout: 600_000 });
  await page.getByTestId('search-input').fill(process.env.QUERY ?? 'a photo of a cat');
  await page.getByTestId('search-input').press('Enter');
  await page.getByTestId('search-results').waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: out, fullPage: true });
  await page.getByTestId('tab-text-failures').click();
  await page.waitForTimeout(500);
  await page.screenshot({ path: out.replace(/\.png$/, '-captions.png'), fullPage: true });
  await page.getByTestId('tab-image-failures').click();
  await page.waitForTimeout(500);
  await page.screenshot({ path: out.replace(/\.png$/, '-images.png'), fullPage: true });
  await browser.close();
  process.exit(0);
}
await page.screenshot({ path: out, fullPage: true });
await browser.close();
