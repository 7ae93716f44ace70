/**
 * The bench's `--task retrieve`: the captioned folder goes through the Retrieval tab's intake (and
 * `--captions` through its caption-file input), the run through `window.zsw.retrieve`, then typed
 * searches over the run's images are timed: encoding the query with the text tower plus ranking every
 * image (`search` in the results JSON; the target is < 100 ms for 10,000 images). The captions' concepts
 * (nouns in 10 or more images) and their Recall@K are written as `concepts`, joined with `--frequencies`
 * counts in 7 log bins when given.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import '../tests/helpers/zsw';
import { type LongTask, longestFrameGap, mainThreadSinceReset, resetLongTasks } from './bench-main-thread';

/** Queries no caption file is likely to hold verbatim, so each search encodes its text. */
const SEARCH_WORDS = [
  'red bicycle',
  'sleeping cat',
  'crowded street',
  'snowy mountain',
  'plate of pasta',
  'old truck',
  'small boat',
  'two dogs playing',
  'kitchen table',
  'bird on a wire',
  'airplane in the sky',
  'frog on a leaf',
  'horse in a field',
  'deer in the forest',
  'ship at sea',
  'child with a kite',
  'city at night',
  'bowl of fruit',
  'tennis player',
  'train station',
];

export interface RetrieveBenchOptions {
  dataDir: string;
  captions?: string;
  queries: number;
  /** Concept counts (`{concept: count}` JSON or CSV) joined with the per-concept Recall@K. */
  frequencies?: string;
}

export async function benchRetrieve(
  page: Page,
  o: RetrieveBenchOptions,
  fail: (message: string) => never,
): Promise<{
  results: Record<string, unknown>;
  wallMs: number;
  /** The run's long tasks and waits for a frame of 50 ms or more (`mainThreadSinceReset`). */
  runMainThread: { tasks: LongTask[]; gaps: LongTask[] };
  runFrameGap: { ms: number; atMs: number };
  line: string;
}> {
  await page.getByTestId('mode-retrieve').click();
  await page.getByTestId('retrieval-folder-input').setInputFiles(o.dataDir);
  await page.waitForFunction(() => window.zsw.retrieve.dataset !== null || window.zsw.retrieve.error !== null);
  const intakeError = await page.evaluate(() => window.zsw.retrieve.error);
  if (intakeError) fail(`${o.dataDir}: ${intakeError.message}`);
  if (o.captions) {
    await page.getByTestId('captions-input').setInputFiles(path.resolve(o.captions));
    const name = path.basename(o.captions);
    await page.waitForFunction(
      (n) => window.zsw.retrieve.dataset?.captionSource === n || window.zsw.retrieve.error !== null,
      name,
    );
    const err = await page.evaluate(() => window.zsw.retrieve.error);
    if (err) fail(`${o.captions}: ${err.message}`);
  }
  await page.waitForFunction(() => window.zsw.retrieve.indexing?.ms != null, null, { timeout: 600_000 });
  await resetLongTasks(page);
  const t0 = Date.now();
  if (process.env.BENCH_DEBUG) console.log('run starts at', await page.evaluate(() => performance.now()));
  const ok = await page.evaluate(() => window.zsw.retrieve.start());
  if (!ok)
    fail(`the run failed: ${(await page.evaluate(() => window.zsw.retrieve.error))?.message ?? 'unknown error'}`);
  const wallMs = Date.now() - t0;
  // Read before the results JSON is made in the page for this script, which holds a frame itself.
  const runFrameGap = await longestFrameGap(page);
  const runMainThread = await mainThreadSinceReset(page);
  const results = (await page.evaluate(() => window.zsw.retrieve.resultsJson()))!;
  if (results.metrics) results.concepts = await conceptsOf(page, o.frequencies, fail);

  // Timed searches: each a new text (encoded by the text tower) over every image, as typed in the UI.
  const captionSet = new Set(
    ((results.per_query as { text_to_image: { caption: string }[] } | null)?.text_to_image ?? []).map((q) => q.caption),
  );
  const queries = Array.from({ length: o.queries }, (_, i) => {
    const w = SEARCH_WORDS[i % SEARCH_WORDS.length]!;
    return i < SEARCH_WORDS.length ? `a photo of a ${w}` : `a picture of a ${w} (${i})`;
  }).filter((q) => !captionSet.has(q));
  const timings: { totalMs: number; encodeMs: number; rankMs: number }[] = [];
  for (const q of queries) {
    const r = await page.evaluate((t) => window.zsw.retrieve.searchText(t), q);
    if (!r) fail(`the search for “${q}” returned nothing`);
    timings.push({ totalMs: r.totalMs, encodeMs: r.encodeMs, rankMs: r.rankMs });
  }
  const similar = [];
  for (let row = 0; row < Math.min(10, o.queries); row++) {
    const r = await page.evaluate((i) => window.zsw.retrieve.moreLikeThis(i), row);
    if (r) similar.push(r.totalMs);
  }
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const q = (p: number) => Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 10) / 10;
    return { median: q(0.5), p95: q(0.95), max: q(1) };
  };
  const dataset = results.dataset as { searchable_images: number; captions: number; evaluated_images: number };
  results.search = {
    images: dataset.searchable_images,
    queries: timings.length,
    total_ms: stat(timings.map((t) => t.totalMs)),
    encode_query_ms: stat(timings.map((t) => t.encodeMs)),
    rank_ms: stat(timings.map((t) => t.rankMs)),
    more_like_this_ms: similar.length ? stat(similar) : null,
  };
  const m = results.metrics as Record<string, number> | null;
  const t = results.timing as { total_ms: number; images_per_sec: number | null };
  const c = results.cache as { image_hits: number; image_misses: number; text_hits: number; text_misses: number };
  const s = results.search as { total_ms: { median: number; p95: number }; rank_ms: { median: number } };
  const pct = (k: string) => (m ? `${(100 * m[k]!).toFixed(2)}%` : '—');
  const line =
    (m
      ? `text→image R@1/5/10 ${pct('text_to_image_R@1')}/${pct('text_to_image_R@5')}/${pct('text_to_image_R@10')} · ` +
        `image→text ${pct('image_to_text_R@1')}/${pct('image_to_text_R@5')}/${pct('image_to_text_R@10')} · ` +
        `mean rank ${m.text_to_image_mean_rank} / ${m.image_to_text_mean_rank} · `
      : 'no captions (search only) · ') +
    `${dataset.captions} captions × ${dataset.evaluated_images} images · ${t.images_per_sec ?? '—'} images/s · ` +
    `run ${t.total_ms} ms · cache: images ${c.image_hits} hit / ${c.image_misses} encoded, captions ` +
    `${c.text_hits} hit / ${c.text_misses} encoded · search over ${dataset.searchable_images} images: median ` +
    `${s.total_ms.median} ms, p95 ${s.total_ms.p95} ms (ranking ${s.rank_ms.median} ms)`;
  return { results, wallMs, runMainThread, runFrameGap, line };
}

/** The Retrieval view's concept-wise table: caption nouns (≥ 10 images) with their Recall@K. */
async function conceptsOf(
  page: Page,
  frequencies: string | undefined,
  fail: (message: string) => never,
): Promise<Record<string, unknown> | null> {
  if (!(await page.evaluate(() => window.zsw.concepts.compute()))) fail('the concepts of the captions were not found');
  if (frequencies) {
    const ok = await page.evaluate(([n, t]) => window.zsw.concepts.importCounts(n, t), [
      path.basename(frequencies),
      fs.readFileSync(frequencies, 'utf8'),
    ] as const);
    if (!ok) fail(`--frequencies ${frequencies}: ${(await page.evaluate(() => window.zsw.concepts.error))?.message}`);
  }
  return page.evaluate(() => window.zsw.concepts.json());
}

/** `--captions` must be a file the intake reads. */
export function checkCaptionsArg(captions: string | undefined, fail: (m: string) => never): void {
  if (captions && !fs.existsSync(captions)) fail(`--captions ${captions}: no such file.`);
}
