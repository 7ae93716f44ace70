/**
 * Caption-counting bench: generates a corpus with known concept counts (default 2,000,000 captions,
 * one per line), counts it through the app's Concept frequency view in headless Chromium (the
 * frequency worker, streaming the file), checks the counts are exact and reports throughput.
 *
 *   npm run bench:count -- [--captions 2000000] [--format txt|csv|jsonl] [--no-build] [--out count.json] [--sql]
 *
 * `--sql` also runs the Concept frequency view's exported DuckDB script over the same file (npm DuckDB)
 * and compares its counts with the browser's, concept by concept, and times it. `--sql-only` skips the
 * browser and compares with the generator's known counts (which the browser's must equal).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../tests/helpers/browser';
import { captions, CORPUS_CONCEPTS } from '../tests/helpers/corpus';
import { DATASETS, MODELS, REPO } from '../tests/helpers/paths';
import { serveBuiltApp } from './serve-built';
import { urlSource } from '../src/data/model-files';
import '../tests/helpers/zsw';
import { conceptCountSql } from '../src/core/concept-sql';
import { duckDbCounts } from '../tests/helpers/duckdb';

const { values: opts } = parseArgs({
  options: {
    captions: { type: 'string', default: '2000000' },
    format: { type: 'string', default: 'txt' },
    'no-build': { type: 'boolean', default: false },
    sql: { type: 'boolean', default: false },
    'sql-only': { type: 'boolean', default: false },
    out: { type: 'string', default: 'count-bench.json' },
  },
});
const n = Number(opts.captions);
const format = opts.format!;
if (!['txt', 'csv', 'jsonl'].includes(format)) throw new Error('--format must be txt, csv or jsonl');

const file = path.join(REPO, '.cache', `corpus-${n}.${format}`);
const expected: Record<string, number> = Object.fromEntries(CORPUS_CONCEPTS.map((c) => [c, 0]));
fs.mkdirSync(path.dirname(file), { recursive: true });
const fd = fs.openSync(file, 'w');
let buf: string[] = format === 'csv' ? ['id,caption'] : [];
let i = 0;
for (const { caption, mentions } of captions(n, 2024)) {
  for (const m of mentions) expected[m]! += 1;
  buf.push(format === 'csv' ? `${i},"${caption}"` : format === 'jsonl' ? JSON.stringify({ caption }) : caption);
  if (buf.length >= 100_000) {
    fs.writeSync(fd, buf.join('\n') + '\n');
    buf = [];
  }
  i++;
}
fs.writeSync(fd, buf.join('\n') + '\n');
fs.closeSync(fd);
const bytes = fs.statSync(file).size;

if (opts['sql-only']) {
  const script = conceptCountSql(CORPUS_CONCEPTS, 'duckdb', { path: file, format: format as 'txt', column: 'caption' });
  const ts = performance.now();
  const counted = await duckDbCounts(script);
  const ms = Math.round(performance.now() - ts);
  const exact = CORPUS_CONCEPTS.every((c) => counted[c] === expected[c]);
  fs.writeFileSync(
    opts.out!,
    JSON.stringify({ captions: n, format, bytes, sql: { ms, exact, counted }, expected }, null, 1),
  );
  console.log(
    `DuckDB: ${n.toLocaleString('en')} captions in ${(ms / 1000).toFixed(1)} s, counts ${exact ? 'exact' : 'WRONG'}`,
  );
  process.exit(exact ? 0 : 1);
}

const app = await serveBuiltApp({ outDir: '.cache/bench-dist', rebuild: !opts['no-build'], modelsDir: MODELS });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`${app.url}/?mode=classify`);
  await page.waitForFunction(() => 'zsw' in window);
  const source = urlSource(`${app.url}/models/toy-clip-cifar10/`, 'server', 'toy-clip-cifar10');
  if (!(await page.evaluate((s) => window.zsw.engine.load(s, 'wasm', 'auto'), source)))
    throw new Error('model load failed');
  // A small run gives the classes whose concepts are counted (the CIFAR-10 folder names).
  await page.getByTestId('folder-input').setInputFiles(path.join(DATASETS, 'cifar10/dev'));
  await page.waitForFunction(() => window.zsw.classify.dataset !== null);
  await page.getByTestId('template-choice').selectOption('simple');
  if (!(await page.evaluate(() => window.zsw.classify.start(20)))) throw new Error('classification failed');
  await page.getByRole('tab', { name: 'Concept frequency' }).click();
  const t0 = Date.now();
  await page.getByTestId('freq-captions').setInputFiles(file);
  await page.waitForFunction(
    () => (window.zsw.frequency.source as { kind?: string } | null)?.kind === 'captions',
    null,
    {
      timeout: 1_200_000,
      polling: 200,
    },
  );
  const wallMs = Date.now() - t0;
  const r = (await page.evaluate(() => (window.zsw.frequency as unknown as { lastCount: unknown }).lastCount)) as {
    counts: Record<string, number>;
    captions: number;
    ms: number;
  };
  const got = Object.fromEntries(CORPUS_CONCEPTS.map((c) => [c, r.counts[c]]));
  const exact = JSON.stringify(got) === JSON.stringify(expected) && r.captions === n;
  const perMin = (r.captions / r.ms) * 60_000;
  let sql: { ms: number; equal_to_browser: boolean; counted: Record<string, number> } | undefined;
  if (opts.sql) {
    // The same concepts the view counted (every name it can match a class by), as the view exports them.
    const concepts = Object.keys(r.counts);
    const script = conceptCountSql(concepts, 'duckdb', { path: file, format: format as 'txt', column: 'caption' });
    const ts = performance.now();
    const counted = await duckDbCounts(script);
    const ms = Math.round(performance.now() - ts);
    sql = { ms, equal_to_browser: concepts.every((c) => counted[c] === r.counts[c]), counted };
    console.log(
      `DuckDB: ${(ms / 1000).toFixed(1)} s, counts ${sql.equal_to_browser ? 'equal to' : 'DIFFER from'} the browser's`,
    );
    if (!sql.equal_to_browser) process.exitCode = 1;
  }
  const out = {
    captions: r.captions,
    format,
    bytes,
    worker_ms: Math.round(r.ms),
    wall_ms: wallMs,
    captions_per_minute: Math.round(perMin),
    exact,
    expected,
    counted: got,
    sql,
  };
  fs.writeFileSync(opts.out!, JSON.stringify(out, null, 1));
  console.log(
    `${r.captions.toLocaleString('en')} captions (${(bytes / 1e6).toFixed(0)} MB ${format}) in ${(r.ms / 1000).toFixed(1)} s: ` +
      `${Math.round(perMin).toLocaleString('en')} captions/min · counts ${exact ? 'exact' : 'WRONG'} → ${opts.out}`,
  );
  if (!exact) process.exitCode = 1;
} finally {
  await browser.close();
  await app.close();
}
