/**
 * The exported concept-counting SQL, run by DuckDB (npm build) over caption shards in every format it
 * reads, counts exactly what the in-browser counter (ConceptCounter, the frequency worker's core)
 * counts, concept by concept; the documented differences (Unicode case mapping) are pinned down here.
 * The 2M-caption run is `npm run bench:count -- --sql` (see README).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { conceptCountSql, lemmaForms, sqlString, wordsLine, type CaptionSource } from '../../src/core/concept-sql';
import { ConceptCounter } from '../../src/core/frequency';
import { captions, CORPUS_CONCEPTS } from '../helpers/corpus';
import { duckDbCounts, runDuckDb } from '../helpers/duckdb';

const EXTRA = ['mouse', 'person', 'sea lion', 'golden retriever', 'box', 'leaf'];
const CONCEPTS = [...CORPUS_CONCEPTS, ...EXTRA, "o'clock", 'roof'];
/** Cases the generator does not make: irregular plurals, possessives, punctuation, near misses. */
const HAND = [
  'Two MICE and a mouse',
  'the people and one person',
  'sea-lions on a rock; a lion by the sea',
  'the dog’s bowl and the dogs’ bowls',
  "it is six o'clock, O’CLOCK",
  'golden retrievers and golden-retriever puppies',
  'leaves and boxes, rooves on houses',
  'hotdog catalog category dogma',
  'a "quoted" cat, with commas',
  'Golden\tretriever with a tab',
];

let dir = '';
let corpus: string[] = [];
let expected: Record<string, number> = {};

function jsCounts(texts: readonly string[]): Record<string, number> {
  const c = new ConceptCounter(CONCEPTS);
  for (const t of texts) c.add(t);
  return c.counts();
}

const sqlFor = (source: CaptionSource) => conceptCountSql(CONCEPTS, 'duckdb', source);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-concept-sql-'));
  expected = Object.fromEntries(CONCEPTS.map((c) => [c, 0]));
  corpus = [];
  for (const { caption, mentions } of captions(20_000, 7, [...CORPUS_CONCEPTS, ...EXTRA])) {
    corpus.push(caption);
    for (const m of mentions) expected[m]! += 1;
  }
  corpus.push(...HAND);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('plural forms as data', () => {
  test('irregular and regular plurals, possessives, and only forms the counter folds back', () => {
    expect(lemmaForms('mouse')).toEqual(expect.arrayContaining(['mouse', 'mice', "mice's", 'mice’s']));
    expect(lemmaForms('person')).toEqual(expect.arrayContaining(['person', 'people', 'persons']));
    expect(lemmaForms('leaf')).toEqual(expect.arrayContaining(['leaves', 'leafs']));
    expect(lemmaForms('roof')).toContain('rooves');
    expect(lemmaForms('box')).toContain('boxes');
    // "dogma" is not a form of dog, and every listed form folds back to its lemma
    expect(lemmaForms('dog')).not.toContain('dogma');
    expect(lemmaForms('bus')).toEqual(['bus', "bus's", 'buses', "buses's", 'buses’s', 'bus’s']);
  });

  test('SQL strings survive quotes, backslashes and breaks in DuckDB', async () => {
    const tricky = ["jack-o'-lantern", 'a\\b', 'two\nlines', 'tab\there', "''"];
    const rows = await runDuckDb(`SELECT ${tricky.map((s, i) => `${sqlString(s)} AS s${i}`).join(', ')}`);
    expect(Object.values(rows[0]!)).toEqual(tricky);
  });
});

describe('DuckDB counts exactly as the browser counter', () => {
  test('the generated corpus: counts are the known ones, and the counter agrees', () => {
    const js = jsCounts(corpus.slice(0, 20_000));
    for (const c of [...CORPUS_CONCEPTS, ...EXTRA]) expect(js[c], c).toBe(expected[c]);
  });

  test('one caption per line (.txt)', async () => {
    const f = path.join(dir, 'c.txt');
    fs.writeFileSync(f, corpus.filter((c) => !c.includes('\n')).join('\n') + '\n');
    const sql = await duckDbCounts(sqlFor({ path: f, format: 'txt', column: 'caption' }));
    expect(sql).toEqual(jsCounts(corpus));
    expect(sql['mouse']).toBeGreaterThan(expected['mouse']!); // the hand cases counted too
  });

  test('CSV with a header and quoted fields', async () => {
    const f = path.join(dir, 'c.csv');
    const q = (s: string) => `"${s.replaceAll('"', '""')}"`;
    fs.writeFileSync(f, ['id,caption', ...corpus.map((c, i) => `${i},${q(c)}`)].join('\n') + '\n');
    expect(await duckDbCounts(sqlFor({ path: f, format: 'csv', column: 'caption' }))).toEqual(jsCounts(corpus));
  });

  test('JSONL', async () => {
    const f = path.join(dir, 'c.jsonl');
    fs.writeFileSync(f, corpus.map((caption) => JSON.stringify({ caption })).join('\n') + '\n');
    expect(await duckDbCounts(sqlFor({ path: f, format: 'jsonl', column: 'caption' }))).toEqual(jsCounts(corpus));
  });

  test('two Parquet shards through a glob, with a null caption', async () => {
    const half = corpus.length >> 1;
    const shards = [corpus.slice(0, half), [...corpus.slice(half), null]];
    shards.forEach((rows, i) =>
      fs.writeFileSync(
        path.join(dir, `shard-${i}.parquet`),
        new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'TEXT', data: rows, type: 'STRING' }] })),
      ),
    );
    const got = await duckDbCounts(
      sqlFor({ path: path.join(dir, 'shard-*.parquet'), format: 'parquet', column: 'TEXT' }),
    );
    expect(Object.keys(got)).toEqual(CONCEPTS); // every concept, in order, zero counts included
    expect(got).toEqual(jsCounts(corpus));
  });
});

describe('where SQL and the browser differ', () => {
  test('Unicode case mapping: JS lowercases İ to i + a combining dot and Σ at a word end to ς; DuckDB does not', async () => {
    const texts = ['İSTANBUL at night', 'ΣΟΦΟΣ'];
    const f = path.join(dir, 'unicode.txt');
    fs.writeFileSync(f, texts.join('\n'));
    const concepts = ['istanbul', 'σοφος'];
    const c = new ConceptCounter(concepts);
    texts.forEach((t) => c.add(t));
    const sql = await duckDbCounts(conceptCountSql(concepts, 'duckdb', { path: f, format: 'txt', column: '' }));
    expect(c.counts()).toEqual({ istanbul: 0, σοφος: 1 });
    expect(sql).toEqual({ istanbul: 1, σοφος: 0 });
  });

  test('Spark SQL: the same script but for its first line; CSV paths are refused with a reason', () => {
    const src: CaptionSource = { path: 'shards/*.parquet', format: 'parquet', column: 'caption' };
    const duck = conceptCountSql(CONCEPTS, 'duckdb', src).split('\n');
    const spark = conceptCountSql(CONCEPTS, 'spark', src).split('\n');
    expect(spark.length).toBe(duck.length);
    const differing = duck.map((l, i) => i).filter((i) => duck[i] !== spark[i] && !duck[i]!.startsWith('--'));
    expect(differing).toEqual([0]);
    expect(spark[0]).toContain('array_join(regexp_extract_all(lower(`caption`)');
    expect(spark[0]).toContain('FROM parquet.`shards/*.parquet`');
    expect(() => wordsLine('spark', { ...src, format: 'csv' })).toThrow(/register the CSV as a table/);
  });
});
