/**
 * Folders of embeddings "computed elsewhere", made from the toy model's own embeddings in the app:
 * clip-retrieval's layout (img_emb/img_emb_<n>.npy written by npyjs as float32 or float16, and
 * metadata/metadata_<n>.parquet written by hyparquet-writer with image_path and caption, in row order)
 * with cluster-style absolute image paths. Used by the import e2e and scripts/make-embedding-fixture.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { dump } from 'npyjs';
import { float32ToHalf } from '../../src/core/float16';

export interface EmbeddedImages {
  /** Paths relative to the picked folder, in the order of the rows. */
  paths: string[];
  emb: Float32Array;
  dim: number;
}

export interface FixtureSpec {
  dir: string;
  /** Image paths as the cluster wrote them (e.g. /data/cifar10/dev/cat/0001.png). */
  paths: string[];
  captions?: (string | null)[];
  emb: Float32Array;
  dim: number;
  dtype: 'float16' | 'float32';
  /** Rows per shard, in order; they must add up to the number of rows. */
  shards: number[];
  /** Files to copy in: [source, path inside dir]. */
  copy?: [string, string][];
}

/** Writes one clip-retrieval output folder. */
export function writeClipRetrievalFolder(s: FixtureSpec): void {
  const n = s.paths.length;
  if (s.shards.reduce((a, b) => a + b, 0) !== n) throw new Error('shard sizes do not add up to the rows');
  fs.rmSync(s.dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(s.dir, 'img_emb'), { recursive: true });
  fs.mkdirSync(path.join(s.dir, 'metadata'), { recursive: true });
  let start = 0;
  s.shards.forEach((rows, k) => {
    const part = s.emb.subarray(start * s.dim, (start + rows) * s.dim);
    const npy =
      s.dtype === 'float16' ? dump(float32ToHalf(part), [rows, s.dim], { dtype: 'f2' }) : dump(part, [rows, s.dim]);
    fs.writeFileSync(path.join(s.dir, 'img_emb', `img_emb_${k}.npy`), new Uint8Array(npy));
    const columnData = [{ name: 'image_path', data: s.paths.slice(start, start + rows), type: 'STRING' as const }];
    if (s.captions)
      columnData.push({ name: 'caption', data: s.captions.slice(start, start + rows) as string[], type: 'STRING' });
    fs.writeFileSync(
      path.join(s.dir, 'metadata', `metadata_${k}.parquet`),
      new Uint8Array(parquetWriteBuffer({ columnData })),
    );
    start += rows;
  });
  for (const [from, to] of s.copy ?? []) {
    fs.mkdirSync(path.dirname(path.join(s.dir, to)), { recursive: true });
    fs.copyFileSync(from, path.join(s.dir, to));
  }
}

/**
 * The loaded model's embeddings of the images of the folder picked in a tab, in the tab's image order:
 * those the tab's last run scored when its cache holds them all, else encoded now by the app's engine
 * (the same preprocessing and weights a run uses).
 */
export async function embedPickedImages(page: Page, task: 'classify' | 'retrieve'): Promise<EmbeddedImages> {
  const r = await page.evaluate(async (t) => {
    type Item = { name: string; blob: Blob };
    const z = window.zsw as unknown as {
      engine: {
        embedImages(items: Item[]): Promise<{ embeddings: Float32Array; failed: unknown[] }>;
        info: { embeddingDim: number };
      };
      classify: { dataset: { entries: { file: File }[]; layout: { images: { path: string; entry: number }[] } } };
      retrieve: { dataset: { images: { path: string; file: File }[] } };
    };
    const list =
      t === 'classify'
        ? z.classify.dataset.layout.images.map((im) => ({
            path: im.path,
            file: z.classify.dataset.entries[im.entry]!.file,
          }))
        : z.retrieve.dataset.images;
    const dim = z.engine.info.embeddingDim;
    // After a run, the tab's embedding cache (in the cache worker) holds exactly what the run scored:
    // read those (an internal, so a missing one falls back to encoding again with the same engine).
    const cache = (
      z[t] as unknown as {
        cache?: {
          has?(h: string): boolean;
          gather?(hashes: string[]): Promise<Float32Array>;
          contents?: { hashesOf?(b: Blob[]): Promise<{ hashes: (string | null)[] }> };
        };
      }
    ).cache;
    if (cache?.has && cache.gather && cache.contents?.hashesOf) {
      const { hashes } = await cache.contents.hashesOf(list.map((x) => x.file));
      if (hashes.every((h) => h !== null && cache.has!(h))) {
        const emb = await cache.gather(hashes as string[]);
        return { paths: list.map((x) => x.path), emb: Array.from(emb), dim, cached: true };
      }
    }
    const out: number[] = [];
    for (let s = 0; s < list.length; s += 32) {
      const chunk = list.slice(s, s + 32);
      const res = await z.engine.embedImages(chunk.map((x) => ({ name: x.path, blob: x.file })));
      if (res.failed.length > 0) throw new Error(`images failed to embed: ${JSON.stringify(res.failed)}`);
      out.push(...res.embeddings);
    }
    return { paths: list.map((x) => x.path), emb: out, dim, cached: false };
  }, task);
  return { paths: r.paths, emb: Float32Array.from(r.emb), dim: r.dim };
}

/** Two uneven shards (so a shard boundary falls inside a class). */
export const twoShards = (n: number): number[] => [Math.ceil(n * 0.6), n - Math.ceil(n * 0.6)];

/**
 * The CIFAR-10 dev fixtures: float32 with the image files beside (for the spot check) and float16
 * without them, paths as a cluster would write them.
 */
export function writeCifarFixtures(outDir: string, dev: string, e: EmbeddedImages): { f32: string; f16: string } {
  const clusterPaths = e.paths.map((p) => `/data/cifar10/dev/${p}`);
  const f32 = path.join(outDir, 'cifar10-dev-f32');
  const f16 = path.join(outDir, 'cifar10-dev-f16');
  const copy = e.paths.map((p): [string, string] => [path.join(dev, p), path.join('images', p)]);
  writeClipRetrievalFolder({
    dir: f32,
    paths: clusterPaths,
    emb: e.emb,
    dim: e.dim,
    dtype: 'float32',
    shards: twoShards(e.paths.length),
    copy,
  });
  writeClipRetrievalFolder({
    dir: f16,
    paths: clusterPaths,
    emb: e.emb,
    dim: e.dim,
    dtype: 'float16',
    shards: twoShards(e.paths.length),
  });
  return { f32, f16 };
}

/** COCO-mini: two shards, the COCO caption file beside them (several captions per image). */
export function writeCocoFixture(
  outDir: string,
  coco: string,
  e: EmbeddedImages,
  dtype: 'float16' | 'float32' = 'float32',
): string {
  const dir = path.join(outDir, `coco-mini-${dtype === 'float16' ? 'f16' : 'f32'}`);
  writeClipRetrievalFolder({
    dir,
    paths: e.paths.map((p) => `s3://bucket/coco/val2017/${p}`),
    emb: e.emb,
    dim: e.dim,
    dtype,
    shards: twoShards(e.paths.length),
    copy: [[path.join(coco, 'captions.coco.json'), 'captions.coco.json']],
  });
  return dir;
}
