/**
 * The IndexedDB storage layer, on fake-indexeddb (the browser e2e covers the real IndexedDB):
 * round trips, bulk reads with misses and duplicates, usage and clearing, interrupted-run records,
 * quota errors, and opening a database written by schema v1.
 */
import 'fake-indexeddb/auto';
import { openDB } from 'idb';
import { afterEach, describe, expect, test } from 'vitest';
import { DB_VERSION, EmbeddingStore, StorageFullError } from '../../src/storage/embedding-store';
import { hashBlobs, hashBytes, hashParts } from '../../src/data/content-hash';

const DIM = 4;
let n = 0;
const names: string[] = [];
function dbName(): string {
  const name = `test-${n++}`;
  names.push(name);
  return name;
}
afterEach(() => {
  for (const name of names.splice(0)) indexedDB.deleteDatabase(name);
});

/** Row i of an n×DIM matrix is [i, i+0.5, -i, 1/(i+1)]. */
function rows(count: number, from = 0): Float32Array {
  const out = new Float32Array(count * DIM);
  for (let i = 0; i < count; i++) out.set([from + i, from + i + 0.5, -(from + i), 1 / (from + i + 1)], i * DIM);
  return out;
}

describe('embedding store', () => {
  test('images: bulk get returns stored rows in request order, zero rows and found=0 for misses', async () => {
    const s = await EmbeddingStore.open(dbName());
    await s.putImages('m1', ['h0', 'h1', 'h2'], rows(3), DIM);
    const got = await s.getImages('m1', ['h2', 'nope', 'h0', 'h2'], DIM);
    expect(Array.from(got.found)).toEqual([1, 0, 1, 1]);
    expect(Array.from(got.embeddings.subarray(0, DIM))).toEqual(Array.from(rows(1, 2)));
    expect(Array.from(got.embeddings.subarray(DIM, 2 * DIM))).toEqual([0, 0, 0, 0]);
    expect(Array.from(got.embeddings.subarray(2 * DIM, 3 * DIM))).toEqual(Array.from(rows(1, 0)));
    // Another model's fingerprint sees nothing; a put of the same key replaces, never duplicates.
    expect(Array.from((await s.getImages('m2', ['h0'], DIM)).found)).toEqual([0]);
    await s.putImages('m1', ['h0'], rows(1, 7), DIM);
    expect(await s.countImages('m1')).toBe(3);
    expect((await s.getImages('m1', ['h0'], DIM)).embeddings[0]).toBe(7);
    s.close();
  });

  test('bulk reads (getAll path) and sparse reads (per-key path) return the same rows', async () => {
    const s = await EmbeddingStore.open(dbName());
    const hashes = Array.from({ length: 600 }, (_, i) => `h${i}`);
    await s.putImages('m1', hashes, rows(600), DIM);
    await s.putImages('m0', ['h5'], rows(1, 99), DIM); // a neighbouring model's key range
    await s.putImages('m2', ['h5'], rows(1, 98), DIM);
    const wanted = [...hashes.slice(0, 400).reverse(), 'absent'];
    const bulk = await s.getImages('m1', wanted, DIM); // 401 wanted of 600 stored: getAll
    const sparse = await s.getImages('m1', wanted.slice(0, 100), DIM); // 100 < 256: per key
    expect(bulk.found.reduce((a, b) => a + b, 0)).toBe(400);
    expect(bulk.found[400]).toBe(0);
    expect(bulk.embeddings[0]).toBe(399);
    expect(Array.from(bulk.embeddings.subarray(0, 100 * DIM))).toEqual(Array.from(sparse.embeddings));
    expect(bulk.embeddings[(399 - 5) * DIM]).toBe(5); // h5 from m1, not from m0 or m2
    s.close();
  });

  test('a stored row of another size (a different model under a colliding key) is a miss', async () => {
    const s = await EmbeddingStore.open(dbName());
    await s.putImages('m1', ['h0'], rows(1), DIM);
    expect(Array.from((await s.getImages('m1', ['h0'], 8)).found)).toEqual([0]);
    s.close();
  });

  test('texts are keyed by the exact prompt string', async () => {
    const s = await EmbeddingStore.open(dbName());
    await s.putTexts('t1', ['a photo of a cat.', 'a photo of a Cat.'], rows(2), DIM);
    const got = await s.getTexts('t1', ['a photo of a Cat.', 'a photo of a cat', 'a photo of a cat.'], DIM);
    expect(Array.from(got.found)).toEqual([1, 0, 1]);
    expect(got.embeddings[0]).toBe(1);
    expect(got.embeddings[2 * DIM]).toBe(0);
    s.close();
  });

  test('usage per model and dataset; clearing one model leaves the others', async () => {
    const s = await EmbeddingStore.open(dbName());
    await s.touchModel({ fingerprint: 'v1', tower: 'vision', label: 'toy', dim: DIM });
    await s.touchModel({ fingerprint: 't1', tower: 'text', label: 'toy', dim: DIM });
    await s.touchModel({ fingerprint: 'v2', tower: 'vision', label: 'other', dim: DIM });
    await s.putImages('v1', ['a', 'b', 'c'], rows(3), DIM);
    await s.putImages('v2', ['a'], rows(1), DIM);
    await s.putTexts('t1', ['x', 'y'], rows(2), DIM);
    await s.touchDataset('v1', 'dev', 3);
    const u = await s.usage();
    const byFp = Object.fromEntries(u.map((m) => [m.fingerprint, m]));
    expect(byFp.v1).toMatchObject({ count: 3, label: 'toy', tower: 'vision' });
    expect(byFp.v1!.bytes).toBeGreaterThanOrEqual(3 * DIM * 4);
    expect(byFp.v1!.datasets).toEqual([expect.objectContaining({ name: 'dev', images: 3 })]);
    expect(byFp.t1).toMatchObject({ count: 2, tower: 'text' });
    expect(byFp.v2).toMatchObject({ count: 1 });

    await s.clearModel('v1');
    expect(await s.countImages('v1')).toBe(0);
    expect(await s.countImages('v2')).toBe(1);
    expect((await s.usage()).map((m) => m.fingerprint).sort()).toEqual(['t1', 'v2']);
    await s.clearAll();
    expect(await s.usage()).toEqual([]);
    expect(Array.from((await s.getTexts('t1', ['x'], DIM)).found)).toEqual([0]);
    s.close();
  });

  test('runs: begun, advanced with each image write, listed until ended', async () => {
    const s = await EmbeddingStore.open(dbName());
    const rec = {
      id: 'r1',
      dataset: 'dev',
      modelLabel: 'toy',
      visionModel: 'v1',
      totalImages: 10,
      storedImages: 2,
      startedAt: 1,
      updatedAt: 1,
    };
    await s.beginRun(rec);
    await s.putImages('v1', ['a', 'b'], rows(2), DIM, { id: 'r1', storedImages: 4 });
    const open = await s.openRuns();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ id: 'r1', storedImages: 4 });
    await s.endRun('r1');
    expect(await s.openRuns()).toEqual([]);
    s.close();
  });

  test('a quota error becomes StorageFullError and stores nothing of that batch', async () => {
    const s = await EmbeddingStore.open(dbName());
    // fake-indexeddb has no quota: make the object store refuse the second put like a full disk does.
    const real = IDBObjectStore.prototype.put;
    let calls = 0;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
      calls += 1;
      if (calls === 2) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      return real.apply(this, args);
    };
    try {
      await expect(s.putImages('v1', ['a', 'b', 'c'], rows(3), DIM)).rejects.toBeInstanceOf(StorageFullError);
    } finally {
      IDBObjectStore.prototype.put = real;
    }
    expect(await s.countImages('v1')).toBe(0); // the transaction aborted as a whole
    await s.putImages('v1', ['a'], rows(1), DIM); // and the store still works afterwards
    expect(await s.countImages('v1')).toBe(1);
    s.close();
  });

  test('opens a database written by schema v1 and keeps its embeddings', async () => {
    const name = dbName();
    // Exactly what version 1 of the app created and wrote.
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('images', { keyPath: ['model', 'hash'] });
        db.createObjectStore('texts', { keyPath: ['model', 'text'] });
      },
    });
    const tx = v1.transaction(['images', 'texts'], 'readwrite');
    await Promise.all([
      tx.objectStore('images').put({ model: 'vA', hash: 'h1', emb: rows(1) }),
      tx.objectStore('images').put({ model: 'vA', hash: 'h2', emb: rows(1, 1) }),
      tx.objectStore('images').put({ model: 'vB', hash: 'h1', emb: rows(1, 2) }),
      tx.objectStore('texts').put({ model: 'tA', text: 'a photo of a cat.', emb: rows(1, 3) }),
      tx.done,
    ]);
    v1.close();

    expect(DB_VERSION).toBe(2);
    const s = await EmbeddingStore.open(name);
    const got = await s.getImages('vA', ['h2', 'h1'], DIM);
    expect(Array.from(got.found)).toEqual([1, 1]);
    expect(got.embeddings[0]).toBe(1);
    expect((await s.getTexts('tA', ['a photo of a cat.'], DIM)).embeddings[0]).toBe(3);
    // The migration registered every fingerprint it found, so the storage panel can show and clear them.
    const u = await s.usage();
    expect(u.map((m) => [m.fingerprint, m.tower, m.count, m.dim]).sort()).toEqual([
      ['tA', 'text', 1, DIM],
      ['vA', 'vision', 2, DIM],
      ['vB', 'vision', 1, DIM],
    ]);
    expect(await s.openRuns()).toEqual([]);
    s.close();
  });
});

describe('content hashes', () => {
  test('xxHash128 of known inputs', async () => {
    // Reference values from the xxHash project's XXH3_128bits (seed 0).
    expect(await hashBytes('')).toBe('99aa06d3014798d86001c324468d497f');
    expect(await hashBytes(new Uint8Array([97, 98, 99]))).toBe(await hashBytes('abc'));
  });

  test('blobs hashed in groups equal their one-by-one hashes; equal content, equal hash', async () => {
    const blobs = Array.from({ length: 700 }, (_, i) => new Blob([`image ${i % 350} `.repeat(1 + (i % 7))]));
    const { hashes, failed } = await hashBlobs(blobs);
    expect(failed.size).toBe(0);
    for (const i of [0, 1, 255, 256, 257, 511, 699]) {
      expect(hashes[i]).toBe(await hashBytes(new Uint8Array(await blobs[i]!.arrayBuffer())));
    }
    expect(hashes[3]).toBe(hashes[353]);
    expect(new Set(hashes).size).toBe(350);
  });

  test('sizes are read in slices of at most ~20 ms between tasks; groups stay under the byte cap; a cancel while sizing reads nothing', async () => {
    // Chromium's input-picked Files answer `size` with a synchronous call to the browser (~0.2 ms, here
    // 0.5 ms spun), so reading every size in one pass held the main thread for seconds on big folders.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const sizeReads: { tick: number; at: number }[] = [];
    let reads = 0;
    let inFlightBytes = 0;
    let maxInFlightBytes = 0;
    // A blob that says it holds `claimed` bytes (a big photo) while holding a few.
    class Slow extends Blob {
      constructor(
        readonly i: number,
        readonly claimed: number,
      ) {
        super([`file ${i}`]);
      }
      override get size(): number {
        const t = performance.now();
        while (performance.now() - t < 0.5);
        sizeReads.push({ tick: ticks, at: t });
        return this.claimed;
      }
      override async arrayBuffer(): Promise<ArrayBuffer> {
        reads++;
        inFlightBytes += this.claimed;
        maxInFlightBytes = Math.max(maxInFlightBytes, inFlightBytes);
        await new Promise((r) => setTimeout(r, 1));
        inFlightBytes -= this.claimed;
        return super.arrayBuffer();
      }
    }
    // 300 small files, then 6 of 40 MiB: two of those never share a group (cap 64 MiB).
    const make = () => [
      ...Array.from({ length: 300 }, (_, i) => new Slow(i, 100)),
      ...Array.from({ length: 6 }, (_, k) => new Slow(300 + k, 40 << 20)),
    ];
    try {
      const heard: [done: number, sized: number][] = [];
      const { hashes, failed } = await hashBlobs(make(), (done, sized) => heard.push([done, sized]));
      expect(failed.size).toBe(0);
      expect(hashes.every((h) => h !== null)).toBe(true);
      // Progress: the sizes known, slice by slice, before any file is read; then the files hashed.
      const sizing = heard.filter(([done]) => done === 0).map(([, sized]) => sized);
      expect(heard.slice(0, sizing.length).every(([done]) => done === 0)).toBe(true);
      expect(sizing.length).toBeGreaterThan(2);
      expect(sizing[0]).toBeGreaterThan(0);
      expect(sizing).toEqual([...sizing].sort((a, b) => a - b));
      expect(sizing.at(-1)).toBe(306);
      expect(heard.slice(sizing.length).every(([, sized]) => sized === 306)).toBe(true);
      expect(heard.at(-1)).toEqual([306, 306]);
      // 306 × 0.5 ms = 153 ms of size reads; no stretch of them without a timer task between is over
      // 30 ms (the slice is 20 ms; 10 ms of slack for a loaded machine).
      let longest = 0;
      for (let i = 0, j = 0; i < sizeReads.length; i = j) {
        for (j = i; j < sizeReads.length && sizeReads[j]!.tick === sizeReads[i]!.tick; j++);
        longest = Math.max(longest, sizeReads[j - 1]!.at + 0.5 - sizeReads[i]!.at);
      }
      expect(longest).toBeGreaterThan(10);
      expect(longest).toBeLessThanOrEqual(30);
      // 4 lanes, each at most one 40 MiB file or 16 small ones (without the cap, 6 big ones in one group).
      expect(maxInFlightBytes).toBeLessThanOrEqual(4 * (40 << 20) + 3 * 16 * 100);
      expect(maxInFlightBytes).toBeGreaterThan(40 << 20);

      // Cancelled while the sizes are read: no file is read.
      reads = 0;
      const c = new AbortController();
      setTimeout(() => c.abort(), 30);
      await expect(hashBlobs(make(), undefined, c.signal)).rejects.toThrow('Cancelled');
      expect(reads).toBe(0);
    } finally {
      clearInterval(ticker);
    }
  });

  test('parts are length-prefixed: moving a boundary changes the hash', async () => {
    expect(await hashParts(['ab', 'c'])).not.toBe(await hashParts(['a', 'bc']));
  });
});
