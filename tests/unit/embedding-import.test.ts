/**
 * Reading embeddings computed elsewhere: clip-retrieval shards (float16/float32, npyjs-written) with
 * Parquet metadata (hyparquet-writer), a plain .npy with a .txt or .csv path list, cluster paths made
 * relative, and every bad input refused with a message that names the file and the problem.
 */
import { parquetWriteBuffer } from 'hyparquet-writer';
import { dump } from 'npyjs';
import { describe, expect, test } from 'vitest';
import { float32ToHalf } from '../../src/core/float16';
import {
  matchImageFiles,
  readEmbeddingFolder,
  relativePaths,
  type ImportedEmbeddings,
} from '../../src/data/embedding-import';
import type { PickedFile } from '../../src/data/folder-intake';

const DIM = 8;
const pick = (path: string, data: ArrayBuffer | string): PickedFile => ({
  path,
  file: new File([data], path.split('/').pop()!),
});
/** Rows with a known direction: row i is e_(i mod DIM) scaled by (i + 1), so unit rows are one-hot. */
const rows = (n: number, from = 0) =>
  Float32Array.from({ length: n * DIM }, (_, j) =>
    (from + Math.floor(j / DIM)) % DIM === j % DIM ? from + 1 + Math.floor(j / DIM) : 0,
  );
const npy = (m: Float32Array, n: number, dtype: 'f2' | 'f4' = 'f4') =>
  dtype === 'f2' ? dump(float32ToHalf(m), [n, DIM], { dtype: 'f2' }) : dump(m, [n, DIM]);
const meta = (paths: string[], captions?: string[]) =>
  parquetWriteBuffer({
    columnData: [
      { name: 'image_path', data: paths, type: 'STRING' },
      ...(captions ? [{ name: 'caption', data: captions, type: 'STRING' as const }] : []),
    ],
  });
const paths = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `/data/set/${['cat', 'dog'][(from + i) % 2]}/${from + i}.png`);

function clipRetrieval(dtype: 'f2' | 'f4' = 'f4'): PickedFile[] {
  return [
    pick('out/img_emb/img_emb_1.npy', npy(rows(2, 3), 2, dtype)),
    pick('out/img_emb/img_emb_0.npy', npy(rows(3), 3, dtype)),
    pick('out/metadata/metadata_0.parquet', meta(paths(3), ['a', 'b', 'c'])),
    pick('out/metadata/metadata_1.parquet', meta(paths(2, 3), ['d', 'e'])),
  ];
}

function expectOneHot(set: ImportedEmbeddings) {
  for (let i = 0; i < set.paths.length; i++) {
    const row = Array.from(set.image.subarray(i * DIM, (i + 1) * DIM));
    expect(row).toEqual(Array.from({ length: DIM }, (_, j) => (j === i % DIM ? 1 : 0)));
  }
}

describe('clip-retrieval layout', () => {
  test.each(['f4', 'f2'] as const)('two %s shards in shard order, unit rows, paths and captions', async (dtype) => {
    const set = await readEmbeddingFolder(clipRetrieval(dtype));
    expect(set).toMatchObject({ layout: 'clip-retrieval', dim: DIM, dtype: dtype === 'f2' ? 'float16' : 'float32' });
    expect(set.paths).toEqual(paths(5));
    expect(set.captions).toEqual(['a', 'b', 'c', 'd', 'e']);
    expectOneHot(set);
    expect(relativePaths(set.paths)).toEqual(['cat/0.png', 'dog/1.png', 'cat/2.png', 'dog/3.png', 'cat/4.png']);
  });

  test('text_emb shards are read and checked', async () => {
    const ok = [
      ...clipRetrieval(),
      pick('out/text_emb/text_emb_0.npy', npy(rows(3), 3)),
      pick('out/text_emb/text_emb_1.npy', npy(rows(2), 2)),
    ];
    expect((await readEmbeddingFolder(ok)).text?.length).toBe(5 * DIM);
    const bad = [...clipRetrieval(), pick('out/text_emb/text_emb_0.npy', npy(rows(2), 2))];
    await expect(readEmbeddingFolder(bad)).rejects.toThrow(
      /text_emb\/text_emb_0\.npy: is 2×8 but out\/img_emb\/img_emb_0\.npy is 3×8/,
    );
  });

  test('bad input names the file and the problem', async () => {
    const base = clipRetrieval();
    const replace = (path: string, data: ArrayBuffer) => base.map((e) => (e.path === path ? pick(path, data) : e));
    await expect(readEmbeddingFolder(replace('out/metadata/metadata_1.parquet', meta(paths(3))))).rejects.toThrow(
      'out/metadata/metadata_1.parquet: has 3 rows but out/img_emb/img_emb_1.npy has 2 embeddings',
    );
    await expect(readEmbeddingFolder(base.filter((e) => !e.path.endsWith('metadata_1.parquet')))).rejects.toThrow(
      'out/img_emb/img_emb_1.npy: has no metadata/metadata_1.parquet beside it',
    );
    await expect(
      readEmbeddingFolder(replace('out/img_emb/img_emb_1.npy', dump(new Float32Array(8), [8]))),
    ).rejects.toThrow('out/img_emb/img_emb_1.npy: has shape (8); embeddings must be a 2-D array');
    await expect(
      readEmbeddingFolder(replace('out/img_emb/img_emb_1.npy', dump(new Int32Array(2 * DIM), [2, DIM]))),
    ).rejects.toThrow('out/img_emb/img_emb_1.npy: holds i4 values');
    await expect(
      readEmbeddingFolder(replace('out/img_emb/img_emb_1.npy', dump(new Float32Array(2 * 4).fill(1), [2, 4]))),
    ).rejects.toThrow('out/img_emb/img_emb_1.npy: has 4 columns but out/img_emb/img_emb_0.npy has 8');
    await expect(
      readEmbeddingFolder(replace('out/img_emb/img_emb_1.npy', dump(new Float32Array(2 * DIM), [2, DIM]))),
    ).rejects.toThrow('out/img_emb/img_emb_1.npy: row 0 is zero or not finite');
    const noPath = parquetWriteBuffer({ columnData: [{ name: 'url', data: ['x', 'y'], type: 'STRING' }] });
    await expect(readEmbeddingFolder(replace('out/metadata/metadata_1.parquet', noPath))).rejects.toThrow(
      'out/metadata/metadata_1.parquet: has no “image_path” column (columns: url)',
    );
    await expect(
      readEmbeddingFolder(replace('out/img_emb/img_emb_1.npy', new TextEncoder().encode('not npy').buffer)),
    ).rejects.toThrow(/out\/img_emb\/img_emb_1\.npy: not a readable \.npy file/);
  });
});

describe('plain .npy + path list', () => {
  test('a .txt list and a .csv list with a path column', async () => {
    const txt = await readEmbeddingFolder([
      pick('f/features.npy', npy(rows(3), 3)),
      pick('f/paths.txt', paths(3).join('\n') + '\n'),
    ]);
    expect(txt).toMatchObject({ layout: 'npy + path list', paths: paths(3), captions: null });
    expectOneHot(txt);
    const csv = await readEmbeddingFolder([
      pick('f/features.npy', npy(rows(3), 3, 'f2')),
      pick(
        'f/index.csv',
        `id,filepath\n${paths(3)
          .map((p, i) => `${i},${p}`)
          .join('\n')}\n`,
      ),
    ]);
    expect(csv.paths).toEqual(paths(3));
    expect(csv.dtype).toBe('float16');
  });

  test('mismatches and missing pieces are named', async () => {
    await expect(
      readEmbeddingFolder([pick('f/x.npy', npy(rows(3), 3)), pick('f/p.txt', paths(2).join('\n'))]),
    ).rejects.toThrow('f/p.txt: lists 2 paths but f/x.npy has 3 embeddings');
    await expect(readEmbeddingFolder([pick('f/x.npy', npy(rows(3), 3))])).rejects.toThrow(
      'f/x.npy needs a list of image paths',
    );
    await expect(
      readEmbeddingFolder([pick('f/x.npy', npy(rows(3), 3)), pick('f/p.csv', 'a,b\n1,2\n')]),
    ).rejects.toThrow('f/p.csv: has no path column');
    await expect(readEmbeddingFolder([pick('f/readme.md', 'hi')])).rejects.toThrow(/No embeddings found/);
  });
});

test('imported paths find the picked image files by exact path or a unique ending', () => {
  const f = (p: string) => ({ path: p, file: new File([], p) });
  const entries = [f('images/cat/0.png'), f('cat/1.png'), f('a/dog/2.png'), f('b/dog/2.png')];
  const got = matchImageFiles(['cat/0.png', 'cat/1.png', 'dog/2.png', 'cat/9.png'], entries);
  expect(got.map((x) => x?.name ?? null)).toEqual(['images/cat/0.png', 'cat/1.png', null, null]);
});
