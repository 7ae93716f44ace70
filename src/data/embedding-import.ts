/**
 * Embeddings computed elsewhere (a GPU cluster, clip-retrieval's distributed inference, open_clip or
 * CLIP_benchmark feature dumps), read with maintained readers — npyjs for `.npy`, hyparquet for Parquet,
 * d3-dsv for CSV — into one N×D Float32Array of unit rows plus the image path of each row:
 *
 * - clip-retrieval's layout: `img_emb/img_emb_<n>.npy` (float16 or float32, N×D), optional
 *   `text_emb/text_emb_<n>.npy`, and `metadata/metadata_<n>.parquet` with `image_path` (and `caption`)
 *   in the same row order, shards taken in order of n;
 * - a plain `.npy` (N×D) and a list of paths: `.txt` (one per line) or `.csv` (a path column).
 *
 * Every problem (wrong shape or type, a shard without metadata, row counts that disagree, a missing
 * column) is an error naming the file.
 */
import { csvParse } from 'd3-dsv';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parse as parseNpy } from 'npyjs';
import { WorkbenchError } from './errors';
import type { PickedFile } from './folder-intake';
import { concatArrays } from '../core/vector';

export interface ImportedEmbeddings {
  layout: 'clip-retrieval' | 'npy + path list';
  /** Files read, relative to the picked folder, for the summary. */
  files: string[];
  /** Element type of the image embeddings as stored. */
  dtype: 'float16' | 'float32' | 'float64';
  dim: number;
  /** n×dim, rows unit-norm (renormalised here: float16 storage and some exporters leave them off 1). */
  image: Float32Array;
  /** Image path of each row, as the exporter wrote it (absolute or relative, `/` separated). */
  paths: string[];
  /** One caption per row (clip-retrieval's `caption` column), or null. */
  captions: (string | null)[] | null;
  /** Text embeddings of the captions when `text_emb/` is present (n×dim, unit rows), else null. */
  text: Float32Array | null;
}

const PATH_COLUMNS = ['image_path', 'filepath', 'file', 'path', 'image', 'filename', 'url'];

function bad(file: string, problem: string): WorkbenchError {
  return new WorkbenchError('bad-input', `${file}: ${problem}`, file);
}

/** Reads one `.npy` as an n×d matrix of numbers (float16 widened to float32). */
export async function readNpyMatrix(
  f: PickedFile,
): Promise<{ data: Float32Array; rows: number; dim: number; dtype: ImportedEmbeddings['dtype'] }> {
  let arr;
  try {
    arr = parseNpy(await f.file.arrayBuffer(), { convertFloat16: true });
  } catch (e) {
    throw bad(f.path, `not a readable .npy file (${e instanceof Error ? e.message : String(e)}).`);
  }
  const dtypes = { f2: 'float16', f4: 'float32', f8: 'float64' } as const;
  const dtype = dtypes[arr.dtype as keyof typeof dtypes];
  if (!dtype) throw bad(f.path, `holds ${arr.dtype} values; embeddings must be float16, float32 or float64.`);
  if (arr.shape.length !== 2) {
    throw bad(f.path, `has shape (${arr.shape.join(', ')}); embeddings must be a 2-D array, one row per image.`);
  }
  if (arr.fortranOrder) throw bad(f.path, 'is stored in Fortran (column-major) order; save it with C order.');
  const [rows, dim] = arr.shape as [number, number];
  const data = arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data as Float64Array);
  return { data, rows, dim, dtype };
}

/** Rows scaled to unit length; a zero or non-finite row is an error naming the file and row. */
export function unitRows(m: Float32Array, dim: number, file: string, firstRow = 0): Float32Array {
  for (let r = 0; r * dim < m.length; r++) {
    const row = m.subarray(r * dim, (r + 1) * dim);
    let s = 0;
    for (let j = 0; j < dim; j++) s += row[j]! * row[j]!;
    if (!(s > 0) || !Number.isFinite(s)) throw bad(file, `row ${firstRow + r} is zero or not finite.`);
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) row[j]! *= inv;
  }
  return m;
}

async function readParquetRows(f: PickedFile, columns: string[]): Promise<Record<string, unknown>[]> {
  const buf = await f.file.arrayBuffer();
  let names: string[];
  try {
    names = parquetMetadata(buf)
      .schema.slice(1)
      .map((s) => s.name);
  } catch (e) {
    throw bad(f.path, `not a readable Parquet file (${e instanceof Error ? e.message : String(e)}).`);
  }
  const want = columns.filter((c) => names.includes(c));
  if (!want.includes(columns[0]!)) {
    throw bad(f.path, `has no “${columns[0]}” column (columns: ${names.join(', ') || 'none'}).`);
  }
  return parquetReadObjects({ file: buf, columns: want });
}

const shardNo = (path: string, re: RegExp) => Number(re.exec(path)?.[1] ?? NaN);

/** Which layout the picked files are in, or null when neither. */
export function embeddingLayout(entries: PickedFile[]): ImportedEmbeddings['layout'] | null {
  if (entries.some((e) => /(^|\/)img_emb\/img_emb_\d+\.npy$/.test(e.path))) return 'clip-retrieval';
  if (entries.some((e) => /\.npy$/i.test(e.path))) return 'npy + path list';
  return null;
}

/** Read a picked folder of embeddings in either layout (see the module comment). */
export async function readEmbeddingFolder(entries: PickedFile[]): Promise<ImportedEmbeddings> {
  const layout = embeddingLayout(entries);
  if (layout === 'clip-retrieval') return readClipRetrieval(entries);
  if (layout === 'npy + path list') return readNpyWithList(entries);
  throw new WorkbenchError(
    'bad-input',
    'No embeddings found: expected clip-retrieval’s img_emb/img_emb_<n>.npy with metadata/metadata_<n>.parquet, or a .npy file with a list of image paths (.txt or .csv).',
  );
}

async function readClipRetrieval(entries: PickedFile[]): Promise<ImportedEmbeddings> {
  const IMG = /(?:^|\/)img_emb\/img_emb_(\d+)\.npy$/;
  const TXT = /(?:^|\/)text_emb\/text_emb_(\d+)\.npy$/;
  const META = /(?:^|\/)metadata\/metadata_(\d+)\.parquet$/;
  const shards = entries.filter((e) => IMG.test(e.path)).sort((a, b) => shardNo(a.path, IMG) - shardNo(b.path, IMG));
  const metaBy = new Map(entries.filter((e) => META.test(e.path)).map((e) => [shardNo(e.path, META), e]));
  const textBy = new Map(entries.filter((e) => TXT.test(e.path)).map((e) => [shardNo(e.path, TXT), e]));
  const parts: Float32Array[] = [];
  const textParts: Float32Array[] = [];
  const paths: string[] = [];
  const captions: (string | null)[] = [];
  let hasCaption = false;
  let dim = 0;
  let dtype: ImportedEmbeddings['dtype'] = 'float32';
  const files: string[] = [];
  for (const shard of shards) {
    const n = shardNo(shard.path, IMG);
    const meta = metaBy.get(n);
    if (!meta)
      throw bad(shard.path, `has no metadata/metadata_${n}.parquet beside it (image paths are read from there).`);
    const m = await readNpyMatrix(shard);
    if (dim && m.dim !== dim) throw bad(shard.path, `has ${m.dim} columns but ${shards[0]!.path} has ${dim}.`);
    dim = m.dim;
    dtype = m.dtype;
    const rows = await readParquetRows(meta, ['image_path', 'caption']);
    if (rows.length !== m.rows) {
      throw bad(
        meta.path,
        `has ${rows.length} rows but ${shard.path} has ${m.rows} embeddings; they must be in the same row order.`,
      );
    }
    rows.forEach((r, i) => {
      const p = r.image_path;
      if (typeof p !== 'string' || !p) throw bad(meta.path, `row ${i} has no image_path.`);
      paths.push(p.replaceAll('\\', '/'));
      const c = r.caption;
      if (typeof c === 'string') hasCaption = true;
      captions.push(typeof c === 'string' ? c : null);
    });
    parts.push(unitRows(m.data, m.dim, shard.path));
    files.push(shard.path, meta.path);
    const t = textBy.get(n);
    if (t) {
      const tm = await readNpyMatrix(t);
      if (tm.rows !== m.rows || tm.dim !== m.dim) {
        throw bad(t.path, `is ${tm.rows}×${tm.dim} but ${shard.path} is ${m.rows}×${m.dim}.`);
      }
      textParts.push(unitRows(tm.data, tm.dim, t.path));
      files.push(t.path);
    }
  }
  if (textParts.length > 0 && textParts.length !== parts.length) {
    throw new WorkbenchError('bad-input', `text_emb/ has ${textParts.length} shards but img_emb/ has ${parts.length}.`);
  }
  return {
    layout: 'clip-retrieval',
    files,
    dtype,
    dim,
    image: concat(parts),
    paths,
    captions: hasCaption ? captions : null,
    text: textParts.length > 0 ? concat(textParts) : null,
  };
}

async function readNpyWithList(entries: PickedFile[]): Promise<ImportedEmbeddings> {
  const npys = entries.filter((e) => /\.npy$/i.test(e.path));
  const lists = entries.filter(
    (e) => /\.(txt|csv)$/i.test(e.path) && !/(^|\/)(classnames|templates)\.txt$/i.test(e.path),
  );
  if (npys.length !== 1) {
    throw new WorkbenchError(
      'bad-input',
      `Found ${npys.length} .npy files (${npys.map((e) => e.path).join(', ')}); a plain import takes one .npy and one path list.`,
    );
  }
  if (lists.length !== 1) {
    throw new WorkbenchError(
      'bad-input',
      lists.length === 0
        ? `${npys[0]!.path} needs a list of image paths beside it (.txt, one per line, or .csv with a path column).`
        : `Found several path lists (${lists.map((e) => e.path).join(', ')}); keep one beside ${npys[0]!.path}.`,
    );
  }
  const npy = npys[0]!;
  const list = lists[0]!;
  const m = await readNpyMatrix(npy);
  const text = await list.file.text();
  let paths: string[];
  if (/\.csv$/i.test(list.path)) {
    const rows = csvParse(text);
    const col = PATH_COLUMNS.find((c) => rows.columns.includes(c));
    if (!col)
      throw bad(
        list.path,
        `has no path column (one of ${PATH_COLUMNS.join(', ')}); columns: ${rows.columns.join(', ')}.`,
      );
    paths = rows.map((r) => (r[col] ?? '').trim());
  } else {
    paths = text.split(/\r?\n/).map((l) => l.trim());
    while (paths.length > 0 && paths[paths.length - 1] === '') paths.pop();
  }
  const empty = paths.findIndex((p) => !p);
  if (empty >= 0) throw bad(list.path, `entry ${empty + 1} is empty.`);
  if (paths.length !== m.rows) {
    throw bad(
      list.path,
      `lists ${paths.length} paths but ${npy.path} has ${m.rows} embeddings; they must be in the same order.`,
    );
  }
  return {
    layout: 'npy + path list',
    files: [npy.path, list.path],
    dtype: m.dtype,
    dim: m.dim,
    image: unitRows(m.data, m.dim, npy.path),
    paths: paths.map((p) => p.replaceAll('\\', '/')),
    captions: null,
    text: null,
  };
}

function concat(parts: Float32Array[]): Float32Array {
  return parts.length === 1 ? parts[0]! : concatArrays(parts, (n) => new Float32Array(n));
}

/**
 * The imported paths relative to the directory they all share ("/data/cifar10/dev/cat/1.png" →
 * "cat/1.png"), so the first segment is the class folder as with a picked ImageFolder.
 */
export function relativePaths(paths: readonly string[]): string[] {
  const split = paths.map((p) => p.replace(/^[a-z]+:\/\/[^/]*/i, '').split('/'));
  let common = split[0]?.slice(0, -1) ?? [];
  for (const s of split) {
    let k = 0;
    while (k < common.length && k < s.length - 1 && common[k] === s[k]) k++;
    common = common.slice(0, k);
  }
  return split.map((s) => s.slice(common.length).join('/'));
}

/**
 * For each imported path, the picked image file with that path, or else the unique one whose path ends
 * with it (or it with theirs) — the images for the spot check, thumbnails and galleries. Null when absent.
 */
export function matchImageFiles(rel: readonly string[], entries: PickedFile[]): (File | null)[] {
  const byPath = new Map<string, File>();
  const byName = new Map<string, PickedFile[]>();
  for (const e of entries) {
    byPath.set(e.path, e.file);
    const name = e.path.split('/').pop()!;
    byName.set(name, [...(byName.get(name) ?? []), e]);
  }
  return rel.map((p) => {
    const exact = byPath.get(p);
    if (exact) return exact;
    const cands = (byName.get(p.split('/').pop()!) ?? []).filter(
      (e) => e.path.endsWith(`/${p}`) || p.endsWith(`/${e.path}`) || e.path === p,
    );
    return cands.length === 1 ? cands[0]!.file : null;
  });
}
