/**
 * Runs on embeddings computed elsewhere (src/data/embedding-import.ts reads them). The imported set
 * becomes an ordinary picked folder for the Classify or Retrieval tab — one entry per embedding row at
 * its path (the image file itself when it was picked too, else an empty stand-in), plus the folder's
 * class-name, template and caption files — so intake, class names, slices, results and exports are
 * the usual ones. At the one point where a run gets its image embeddings, `importedLookup` answers
 * for those entries with the imported rows instead of hashing, cache reads and encoding. Prompts and
 * captions are still encoded by the loaded model, which must have the same embedding size and which
 * the user confirms made the embeddings; a spot check re-encodes a few picked images and reports the
 * cosine with their imported rows.
 */
import { isImageName } from '../core/image-folder';
import { cosine } from '../core/vector';
import { matchImageFiles, readEmbeddingFolder, relativePaths, type ImportedEmbeddings } from '../data/embedding-import';
import { describeError, WorkbenchError } from '../data/errors';
import type { PickedFile } from '../data/folder-intake';
import type { EmbeddingCache, ImageLookup } from './embedding-cache.svelte';
import type { EngineState, UserError } from './engine.svelte';

/** Images re-encoded by the spot check. */
export const SPOT_CHECK_IMAGES = 4;
/** Below this cosine the spot check warns that another model (or preprocessing) made the embeddings. */
export const SPOT_CHECK_MIN_COSINE = 0.99;

export interface SpotCheck {
  rows: { file: string; cosine: number }[];
  min: number;
  ok: boolean;
}

interface Source {
  id: string;
  set: ImportedEmbeddings;
  confirmed: boolean;
}

/** Entry file → (imported set, row): how a run recognises imported entries, whatever tab they went to. */
const ROWS = new WeakMap<Blob, { source: Source; row: number }>();

/**
 * The image lookup of a run whose images are all imported entries (null otherwise: the run hashes and
 * encodes as usual). Rows are held in the cache's memory under keys no content hash can take; the
 * run then finds every image "cached" and encodes none. Rejects when the embedding size differs from
 * the loaded model's or the user has not confirmed the model.
 */
export function importedLookup(blobs: Blob[], cache: EmbeddingCache, dim: number): Promise<ImageLookup> | null {
  const first = blobs[0] && ROWS.get(blobs[0]);
  if (!first) return null;
  const { source } = first;
  return (async () => {
    if (source.set.dim !== dim) {
      throw new WorkbenchError(
        'model-mismatch',
        `The imported embeddings have ${source.set.dim} dimensions but the loaded model makes ${dim}: load the model that computed them.`,
      );
    }
    if (!source.confirmed) {
      throw new WorkbenchError(
        'model-mismatch',
        'Confirm that the loaded model is the one that computed the imported embeddings.',
      );
    }
    const hashes = blobs.map((b) => {
      const r = ROWS.get(b);
      if (!r || r.source !== source) throw new WorkbenchError('internal', 'A run mixes imported and picked images.');
      return `imported:${source.id}:${r.row}`;
    });
    const rows = blobs.map((b) => ROWS.get(b)!.row);
    const d = source.set.dim;
    await cache.holdImages(
      hashes,
      rows.map((r) => source.set.image.subarray(r * d, (r + 1) * d)),
    );
    return { hashes, unreadable: new Map(), hashMs: 0, readMs: 0 };
  })();
}

/** The set last handed to a tab, with the relative path of each row (for `importedEmbeddingsOf`). */
let lastUsed: { set: ImportedEmbeddings; rowOf: Map<string, number> } | null = null;

/**
 * The imported embeddings of a run's files (n×dim in the run's order), or null unless every file is a
 * row of the set last handed to a tab — the Parquet export's optional embedding column.
 */
export function importedEmbeddingsOf(files: readonly string[]): { data: Float32Array; dim: number } | null {
  if (!lastUsed || files.length === 0) return null;
  const { set, rowOf } = lastUsed;
  const d = set.dim;
  const out = new Float32Array(files.length * d);
  for (let i = 0; i < files.length; i++) {
    const r = rowOf.get(files[i]!);
    if (r === undefined) return null;
    out.set(set.image.subarray(r * d, (r + 1) * d), i * d);
  }
  return { data: out, dim: d };
}

/** Whether `importedEmbeddingsOf(files)` has them (no copy made). */
export function hasImportedEmbeddings(files: readonly string[]): boolean {
  return lastUsed !== null && files.length > 0 && files.every((f) => lastUsed!.rowOf.has(f));
}

export class ImportedEmbeddingsState {
  source = $state.raw<Source | null>(null);
  /** Relative path, picked image file (or null) and entry of each row. */
  private rel: string[] = [];
  private images: (File | null)[] = [];
  private extras: PickedFile[] = [];
  loading = $state(false);
  confirmed = $state(false);
  error = $state<UserError | null>(null);
  spot = $state.raw<SpotCheck | null>(null);
  spotRunning = $state(false);
  folderName = $state('');

  constructor(private engine: EngineState) {}

  get set(): ImportedEmbeddings | null {
    return this.source?.set ?? null;
  }

  /** Images of the set found among the picked files. */
  get imagesFound(): number {
    return this.images.filter(Boolean).length;
  }

  /** Problems before a run: embedding size against the loaded model (null when fine or no model). */
  get dimProblem(): string | null {
    const set = this.set;
    const info = this.engine.info;
    if (!set || !info) return null;
    return set.dim === info.embeddingDim
      ? null
      : `These embeddings have ${set.dim} dimensions but ${info.id} makes ${info.embeddingDim}: load the model that computed them.`;
  }

  /** Read a picked folder of embeddings (either layout); images and side files picked with it are kept. */
  async load(entries: PickedFile[]): Promise<boolean> {
    this.loading = true;
    this.error = null;
    this.spot = null;
    this.confirmed = false;
    try {
      const root = entries[0]?.path.includes('/') ? entries[0].path.split('/')[0]! : '';
      const inside = entries.map((e) => ({
        ...e,
        path: root && e.path.startsWith(`${root}/`) ? e.path.slice(root.length + 1) : e.path,
      }));
      const set = await readEmbeddingFolder(inside);
      this.rel = relativePaths(set.paths);
      this.images = matchImageFiles(this.rel, inside);
      // Files at the folder's top level travel with the set (class names, templates, caption files, a
      // per-image metadata table for slices), but not the embedding files themselves or images.
      const used = new Set(set.files);
      this.extras = inside.filter(
        (e) => !e.path.includes('/') && !used.has(e.path) && !/\.(npy|parquet)$/i.test(e.path) && !isImageName(e.path),
      );
      this.folderName = root || 'embeddings';
      this.source = { id: crypto.randomUUID(), set, confirmed: false };
      return true;
    } catch (e) {
      this.source = null;
      this.error = describeError(e);
      return false;
    } finally {
      this.loading = false;
    }
  }

  /** The user says the loaded model made these embeddings (the run refuses until then). */
  confirm(on: boolean): void {
    this.confirmed = on;
    if (this.source) this.source.confirmed = on;
  }

  /**
   * The set as picked-folder entries: one per row at `<folder>/<relative path>` (a fresh File per row,
   * wrapping the picked image when there is one, so thumbnails work), plus the side files; and, for
   * retrieval without a caption file, the metadata captions as a JSONL caption file.
   */
  entries(task: 'classify' | 'retrieve'): PickedFile[] {
    const src = this.source;
    if (!src) return [];
    const name = this.folderName;
    lastUsed = { set: src.set, rowOf: new Map(this.rel.map((p, i) => [p, i])) };
    const out: PickedFile[] = this.rel.map((p, row) => {
      const img = this.images[row];
      const base = p.split('/').pop()!;
      const file = img ? new File([img], base, { type: img.type }) : new File([], base, { type: 'image/x-imported' });
      ROWS.set(file, { source: src, row });
      return { path: `${name}/${p}`, file };
    });
    const captionFiles = this.extras.filter((e) => /caption|annotation/i.test(e.path));
    for (const e of this.extras) {
      const isCaption = captionFiles.includes(e);
      if (task === 'retrieve' || !isCaption) out.push({ path: `${name}/${e.path}`, file: e.file });
    }
    const caps = src.set.captions;
    if (task === 'retrieve' && captionFiles.length === 0 && caps) {
      const lines = this.rel.flatMap((p, i) => (caps[i] ? [JSON.stringify({ file: p, caption: caps[i] })] : []));
      out.push({
        path: `${name}/captions-from-metadata.jsonl`,
        file: new File([lines.join('\n')], 'captions-from-metadata.jsonl'),
      });
    }
    return out;
  }

  /**
   * Re-encode up to SPOT_CHECK_IMAGES picked images of the set with the loaded model and compare each
   * with its imported row: a cosine near 1 says the same model and preprocessing made them.
   */
  async spotCheck(): Promise<SpotCheck | null> {
    const set = this.set;
    if (!set || !this.engine.info || this.dimProblem || this.spotRunning) return null;
    const present = this.images.map((f, i) => (f ? i : -1)).filter((i) => i >= 0);
    if (present.length === 0) return null;
    // Spread over the set rather than the first few files of one class.
    const pick = [
      ...new Set(
        Array.from(
          { length: Math.min(SPOT_CHECK_IMAGES, present.length) },
          (_, k) => present[Math.floor((k * present.length) / Math.min(SPOT_CHECK_IMAGES, present.length))]!,
        ),
      ),
    ];
    this.spotRunning = true;
    try {
      const res = await this.engine.embedImages(pick.map((i) => ({ name: this.rel[i]!, blob: this.images[i]! })));
      const d = set.dim;
      const failed = new Set(res.failed.map((f) => f.index));
      const rows = pick.flatMap((row, k) =>
        failed.has(k)
          ? []
          : [
              {
                file: this.rel[row]!,
                cosine: cosine(res.embeddings.subarray(k * d, (k + 1) * d), set.image.subarray(row * d, (row + 1) * d)),
              },
            ],
      );
      const min = Math.min(...rows.map((r) => r.cosine));
      this.spot = { rows, min, ok: rows.length > 0 && min >= SPOT_CHECK_MIN_COSINE };
      return this.spot;
    } catch (e) {
      this.error = describeError(e);
      return null;
    } finally {
      this.spotRunning = false;
    }
  }

  clear(): void {
    this.source = null;
    this.spot = null;
    this.confirmed = false;
    this.error = null;
  }
}
