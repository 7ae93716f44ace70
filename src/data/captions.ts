/**
 * Caption intake for retrieval: a COCO captions JSON (`images` + `annotations`), a CSV/TSV with
 * `file,caption` columns, JSONL (`{"file"|"image"|"filepath": …, "caption"|"text": …}` per line), or
 * clip-retrieval's convention (a same-name `.txt` beside each image). Captions are then matched to the
 * picked images by path; captions naming a missing image and images without a caption are reported.
 */
import { csvParseRows, tsvParseRows } from 'd3-dsv';
import { byCodePoint, isImageName } from '../core/image-folder';
import { WorkbenchError } from './errors';

export interface CaptionRow {
  /** The image as the caption file names it. */
  file: string;
  caption: string;
}

export interface CaptionFile {
  /** Captions in the file's order. */
  rows: CaptionRow[];
  /** Images in the file's order (COCO's `images[]`, else first appearance). */
  imageOrder: string[];
  format: 'coco' | 'csv' | 'tsv' | 'jsonl' | 'sidecar';
}

/** A problem with the caption file, naming it (and the line or item). */
function bad(file: string, message: string): WorkbenchError {
  return new WorkbenchError('bad-input', message, file);
}

const FILE_KEYS = ['file', 'file_name', 'filename', 'filepath', 'image', 'image_path', 'path', 'url'];
const CAPTION_KEYS = ['caption', 'text', 'title', 'sentence', 'raw'];

function pick(obj: Record<string, unknown>, keys: string[]): unknown {
  for (const k of keys) if (obj[k] !== undefined) return obj[k];
  return undefined;
}

function withOrder(rows: CaptionRow[], format: CaptionFile['format'], order?: string[]): CaptionFile {
  const imageOrder = order ?? [...new Set(rows.map((r) => r.file))];
  return { rows, imageOrder, format };
}

function parseCoco(data: Record<string, unknown>, name: string): CaptionFile {
  const images = data.images;
  const annotations = data.annotations;
  if (!Array.isArray(images) || !Array.isArray(annotations)) {
    throw bad(name, `${name}: a COCO captions file needs "images" and "annotations" lists.`);
  }
  const byId = new Map<unknown, string>();
  images.forEach((im: { id?: unknown; file_name?: unknown }, i) => {
    if (typeof im?.file_name !== 'string' || im.id === undefined)
      throw bad(name, `${name}, images[${i}]: expected { "id", "file_name" }.`);
    byId.set(im.id, im.file_name);
  });
  const rows: CaptionRow[] = [];
  annotations.forEach((a: { image_id?: unknown; caption?: unknown }, i) => {
    if (typeof a?.caption !== 'string') throw bad(name, `${name}, annotations[${i}]: no "caption" text.`);
    const file = byId.get(a.image_id);
    if (file === undefined)
      throw bad(name, `${name}, annotations[${i}]: image_id ${String(a.image_id)} is not in "images".`);
    rows.push({ file, caption: a.caption });
  });
  return withOrder(rows, 'coco', [...byId.values()]);
}

function parseTable(text: string, name: string, tsv: boolean): CaptionFile {
  const table = (tsv ? tsvParseRows : csvParseRows)(text.replace(/^\uFEFF/, ''));
  const header = (table[0] ?? []).map((h) => h.trim().toLowerCase());
  const fi = FILE_KEYS.map((k) => header.indexOf(k)).find((i) => i >= 0);
  const ci = CAPTION_KEYS.map((k) => header.indexOf(k)).find((i) => i >= 0);
  if (fi === undefined || ci === undefined) {
    throw bad(
      name,
      `${name}: the first row must name the columns, e.g. "file${tsv ? '\\t' : ','}caption" (found “${table[0]?.join(tsv ? '\t' : ',') ?? ''}”).`,
    );
  }
  const rows: CaptionRow[] = [];
  table.slice(1).forEach((r, i) => {
    if (r.length === 1 && r[0]!.trim() === '') return;
    const file = r[fi]?.trim();
    const caption = r[ci]?.trim();
    if (!file || !caption) throw bad(name, `${name}, line ${i + 2}: expected a file and a caption.`);
    rows.push({ file, caption });
  });
  return withOrder(rows, tsv ? 'tsv' : 'csv');
}

function parseJsonl(text: string, name: string): CaptionFile {
  const rows: CaptionRow[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      throw bad(name, `${name}, line ${i + 1}: not valid JSON.`);
    }
    const rec = (o ?? {}) as Record<string, unknown>;
    const file = pick(rec, FILE_KEYS);
    const caption = pick(rec, CAPTION_KEYS);
    const captions = Array.isArray(caption) ? caption : [caption];
    if (typeof file !== 'string' || captions.some((c) => typeof c !== 'string'))
      throw bad(name, `${name}, line ${i + 1}: expected { "file": …, "caption": … }.`);
    for (const c of captions as string[]) rows.push({ file, caption: c });
  });
  return withOrder(rows, 'jsonl');
}

/** Parse a caption file by its name and content. Errors name the file and the line or item. */
export function parseCaptionFile(name: string, text: string): CaptionFile {
  const lower = name.toLowerCase();
  if (lower.endsWith('.jsonl')) return parseJsonl(text, name);
  if (lower.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw bad(name, `${name} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`);
    }
    if (Array.isArray(data)) return parseJsonl(data.map((d) => JSON.stringify(d)).join('\n'), name);
    if (data && typeof data === 'object') return parseCoco(data as Record<string, unknown>, name);
    throw bad(name, `${name}: expected a COCO captions object or a list of { file, caption }.`);
  }
  if (lower.endsWith('.tsv')) return parseTable(text, name, true);
  if (lower.endsWith('.csv')) return parseTable(text, name, false);
  throw bad(name, `${name}: captions must be COCO .json, .csv, .tsv or .jsonl.`);
}

/** A caption file among the picked files, by preference: COCO-style JSON, JSONL, CSV, TSV. */
export function findCaptionFile(paths: string[]): number | null {
  const rank = (p: string): number => {
    const base = p.split('/').pop()!.toLowerCase();
    if (!/caption|annotation/.test(base)) return -1;
    return base.endsWith('.json')
      ? 4
      : base.endsWith('.jsonl')
        ? 3
        : base.endsWith('.csv')
          ? 2
          : base.endsWith('.tsv')
            ? 1
            : -1;
  };
  // Best format first, then the shallowest path (the folder's own file over one in a subfolder).
  const depth = (p: string) => p.split('/').length;
  const candidates = paths
    .map((p, i) => ({ i, r: rank(p), d: depth(p) }))
    .filter((c) => c.r > 0)
    .sort((a, b) => b.r - a.r || a.d - b.d);
  return candidates[0]?.i ?? null;
}

/** Paths of the `.txt` files that sit beside an image of the same name (clip-retrieval's layout). */
export function sidecarTexts(paths: string[]): Map<number, number> {
  const images = new Map<string, number>();
  paths.forEach((p, i) => isImageName(p) && images.set(p.replace(/\.[^./]+$/, ''), i));
  const out = new Map<number, number>();
  paths.forEach((p, i) => {
    if (!p.toLowerCase().endsWith('.txt')) return;
    const img = images.get(p.replace(/\.[^./]+$/, ''));
    if (img !== undefined) out.set(img, i);
  });
  return out;
}

/** Captions from sidecar `.txt` files: one caption per non-empty line. */
export function sidecarCaptions(items: { image: string; text: string }[]): CaptionFile {
  const rows: CaptionRow[] = [];
  for (const it of [...items].sort((a, b) => byCodePoint(a.image, b.image))) {
    for (const line of it.text.split(/\r?\n/)) if (line.trim()) rows.push({ file: it.image, caption: line.trim() });
  }
  return withOrder(rows, 'sidecar');
}

export interface CaptionMatch {
  /** Image paths (relative to the picked folder) that have captions, in the caption file's image order. */
  images: string[];
  /** Per caption kept: its text and its row in `images`. */
  captions: { caption: string; image: number }[];
  /** Caption-file names with no picked image, and how many captions each had. */
  missing: { file: string; captions: number }[];
  /** Picked images no caption names. */
  uncaptioned: string[];
  /** Names that matched more than one picked image by their end (`a.jpg` for `x/a.jpg` and `y/a.jpg`). */
  ambiguous: string[];
}

/**
 * Resolve names written in a side file (captions, per-image metadata) to indices of `imagePaths`:
 * exactly, else by a unique path ending (`000000000139.jpg` ↔ `images/000000000139.jpg`). Leading `./`
 * and `\` separators are normalised; a name whose ending fits two images resolves to nothing and is
 * reported by `isAmbiguous`.
 */
export function pathResolver(imagePaths: string[]): {
  resolve: (name: string) => number | undefined;
  isAmbiguous: (name: string) => boolean;
} {
  const bySuffix = new Map<string, number>();
  const dup = new Set<string>();
  imagePaths.forEach((p, i) => {
    const parts = p.split('/');
    for (let s = 0; s < parts.length; s++) {
      const key = parts.slice(s).join('/');
      if (bySuffix.has(key) && bySuffix.get(key) !== i) dup.add(key);
      else bySuffix.set(key, i);
    }
  });
  const norm = (f: string) => f.replace(/\\/g, '/').replace(/^(\.\/|\/)+/, '');
  return {
    resolve: (f) => {
      const key = norm(f);
      if (dup.has(key)) return undefined;
      return bySuffix.get(key) ?? bySuffix.get(key.split('/').pop()!);
    },
    isAmbiguous: (f) => dup.has(norm(f)),
  };
}

/**
 * Match caption-file names to picked image paths: exactly, else by a unique path ending
 * (`000000000139.jpg` ↔ `images/000000000139.jpg`). Leading `./` and `\` separators are normalised.
 */
export function matchCaptions(file: CaptionFile, imagePaths: string[]): CaptionMatch {
  const { resolve, isAmbiguous } = pathResolver(imagePaths);
  const row = new Map<number, number>();
  const images: string[] = [];
  const ambiguous = new Set<string>();
  const missingCount = new Map<string, number>();
  const named = new Set(file.rows.map((r) => r.file));
  for (const f of file.imageOrder) {
    const i = named.has(f) ? resolve(f) : undefined;
    if (i === undefined) {
      if (isAmbiguous(f)) ambiguous.add(f);
      continue;
    }
    if (!row.has(i)) {
      row.set(i, images.length);
      images.push(imagePaths[i]!);
    }
  }
  const captions: CaptionMatch['captions'] = [];
  for (const r of file.rows) {
    const i = resolve(r.file);
    const k = i === undefined ? undefined : row.get(i);
    if (k === undefined) missingCount.set(r.file, (missingCount.get(r.file) ?? 0) + 1);
    else captions.push({ caption: r.caption, image: k });
  }
  const uncaptioned = imagePaths.filter((_, i) => !row.has(i));
  const missing = [...missingCount].filter(([f]) => !ambiguous.has(f)).map(([f, n]) => ({ file: f, captions: n }));
  return { images, captions, missing, uncaptioned, ambiguous: [...ambiguous] };
}
