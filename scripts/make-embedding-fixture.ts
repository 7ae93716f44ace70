/**
 * Writes clip-retrieval-layout folders of the toy model's own embeddings — what a cluster run of
 * clip-retrieval would hand back — for trying the import by hand (the e2e makes its own the same way):
 *
 *   npx tsx scripts/make-embedding-fixture.ts [--out .cache/embedding-fixtures] [--no-build]
 *
 * cifar10-dev-f32/ (float32, the images beside for the spot check), cifar10-dev-f16/ (float16, no
 * images) and coco-mini-f32/ (with captions.coco.json), each with two img_emb/*.npy shards (npyjs) and
 * metadata/*.parquet (hyparquet-writer). The images are embedded in headless Chromium by the app's engine.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../tests/helpers/browser';
import { embedPickedImages, writeCifarFixtures, writeCocoFixture } from '../tests/helpers/embedding-fixture';
import { DATASETS, MODELS, REPO } from '../tests/helpers/paths';
import { urlSource } from '../src/data/model-files';
import { serveBuiltApp } from './serve-built';
import '../tests/helpers/zsw';

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(REPO, '.cache/embedding-fixtures') },
    'no-build': { type: 'boolean', default: false },
  },
});
const DEV = path.join(DATASETS, 'cifar10/dev');
const COCO = path.join(DATASETS, 'coco-mini-captions');

const app = await serveBuiltApp({ outDir: '.cache/bench-dist', rebuild: !opts['no-build'], modelsDir: MODELS });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${app.url}/?mode=classify`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${app.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  if (!(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)))
    throw new Error('model load failed');
  await page.getByTestId('folder-input').setInputFiles(DEV);
  await page.waitForFunction(() => window.zsw.classify.dataset !== null);
  const cifar = writeCifarFixtures(opts.out!, DEV, await embedPickedImages(page, 'classify'));
  await page.getByTestId('mode-retrieve').click();
  await page.getByTestId('retrieval-folder-input').setInputFiles(COCO);
  await page.waitForFunction(() => window.zsw.retrieve.dataset !== null);
  const coco = writeCocoFixture(opts.out!, COCO, await embedPickedImages(page, 'retrieve'));
  console.log(`wrote ${cifar.f32}, ${cifar.f16}, ${coco}`);
} finally {
  await browser.close();
  await app.close();
}
