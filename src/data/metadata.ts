/**
 * Per-image metadata intake: a CSV/TSV/JSON/JSONL file with one row per image — a file column plus
 * attribute columns — matched to the run's images like caption files (exact relative path, else a
 * unique path ending; `pathResolver` in captions.ts). Dollar Street's columns (`imageRelPath`,
 * `country.name`, `region.id`, `income`, `topics`, `imagenet_sysnet_id`) and GeoDE's (`file_path`,
 * `object`, `region`, `ip_country`) are recognised without configuration.
 *
 * Text columns are categories; columns whose every value is a number are numeric (binned into
 * quantiles later); cells holding a JSON or Python list (`["a","b"]`, `['a', 'b']`) or `a|b` are
 * multi-valued. A label column may give a list of acceptable labels per image.
 */
import { csvParseRows, tsvParseRows } from 'd3-dsv';
import type { ImageLabels } from '../core/image-folder';
import { pathResolver } from './captions';
import { WorkbenchError } from './errors';

/** File columns, by preference (lower-cased). */
export const FILE_COLUMNS = [
  'imagerelpath',
  'file_path',
  'file',
  'filename',
  'file_name',
  'filepath',
  'image',
  'image_path',
  'path',
];
/** Columns holding the image's label or acceptable labels (Dollar Street's ImageNet synsets, GeoDE's object). */
export const LABEL_COLUMNS = ['imagenet_sysnet_id', 'imagenet_synset_id', 'label', 'labels', 'object', 'class'];
/** Country columns (get a world map) and region columns (mapped through the file's own country column). */
export const COUNTRY_COLUMNS = ['country.name', 'country', 'ip_country', 'country_name'];
export const REGION_COLUMNS = ['region.id', 'region', 'region.name', 'continent'];

export type ColumnKind = 'category' | 'number' | 'list';

export interface MetadataColumn {
  name: string;
  kind: ColumnKind;
  /** Distinct values (categories and list items), in first-seen order. */
  distinct: number;
}

export interface MetadataTable {
  name: string;
  format: 'csv' | 'tsv' | 'json' | 'jsonl';
  fileColumn: string;
  /** Raw cells per row, by column name (JSON values kept: numbers, lists, strings). */
  rows: { file: string; cells: Record<string, unknown> }[];
  columns: string[];
}

function bad(file: string, message: string): WorkbenchError {
  return new WorkbenchError('bad-input', message, file);
}

/** A cell as a list of values: JSON arrays, Python-style lists and `a|b` split; empty → []. */
export function cellValues(cell: unknown): string[] {
  if (cell === null || cell === undefined) return [];
  if (Array.isArray(cell)) return cell.map((v) => String(v).trim()).filter(Boolean);
  if (typeof cell === 'number') return Number.isFinite(cell) ? [String(cell)] : [];
  const s = String(cell).trim();
  if (s === '') return [];
  if (s.startsWith('[') && s.endsWith(']')) {
    for (const text of [s, s.replace(/'/g, '"')]) {
      try {
        const v: unknown = JSON.parse(text);
        if (Array.isArray(v)) return cellValues(v);
      } catch {
        /* not JSON; try the next reading */
      }
    }
    return s
      .slice(1, -1)
      .split(',')
      .map((x) => x.trim().replace(/^['"]|['"]$/g, ''))
      .filter(Boolean);
  }
  if (s.includes('|'))
    return s
      .split('|')
      .map((x) => x.trim())
      .filter(Boolean);
  return [s];
}

function isListCell(cell: unknown): boolean {
  if (Array.isArray(cell)) return true;
  if (typeof cell !== 'string') return false;
  const s = cell.trim();
  return (s.startsWith('[') && s.endsWith(']')) || s.includes('|');
}

function numberOf(cell: unknown): number | null {
  if (typeof cell === 'number') return Number.isFinite(cell) ? cell : null;
  if (typeof cell !== 'string' || cell.trim() === '') return null;
  const v = Number(cell.trim());
  return Number.isFinite(v) ? v : null;
}

function fileColumnOf(columns: string[], name: string): string {
  const lower = columns.map((c) => c.toLowerCase());
  for (const key of FILE_COLUMNS) {
    const i = lower.indexOf(key);
    if (i >= 0) return columns[i]!;
  }
  throw bad(
    name,
    `${name}: no file column. Name one of ${FILE_COLUMNS.slice(0, 5).join(', ')}… (found: ${columns.join(', ') || 'nothing'}).`,
  );
}

function fromRecords(records: Record<string, unknown>[], name: string, format: MetadataTable['format']): MetadataTable {
  const seen = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) seen.add(k);
  const columns = [...seen];
  const fileColumn = fileColumnOf(columns, name);
  const rows = records.map((cells, i) => {
    const f = cells[fileColumn];
    if (typeof f !== 'string' || f.trim() === '') throw bad(name, `${name}, row ${i + 1}: no “${fileColumn}”.`);
    return { file: f.trim(), cells };
  });
  return { name, format, fileColumn, rows, columns: columns.filter((c) => c !== fileColumn) };
}

/** Parse a metadata file by its name and content. Errors name the file and the line or row. */
export function parseMetadataFile(name: string, text: string): MetadataTable {
  const lower = name.toLowerCase();
  const body = text.replace(/^\uFEFF/, '');
  if (lower.endsWith('.csv') || lower.endsWith('.tsv')) {
    const tsv = lower.endsWith('.tsv');
    const table = (tsv ? tsvParseRows : csvParseRows)(body).filter((r) => !(r.length === 1 && r[0]!.trim() === ''));
    const header = (table[0] ?? []).map((h) => h.trim());
    if (table.length < 2) throw bad(name, `${name}: expected a header row and one row per image.`);
    const records = table.slice(1).map((r, i) => {
      if (r.length !== header.length)
        throw bad(name, `${name}, line ${i + 2}: ${r.length} cells where the header has ${header.length}.`);
      return Object.fromEntries(header.map((h, j) => [h, r[j]!]));
    });
    return fromRecords(records, name, tsv ? 'tsv' : 'csv');
  }
  if (lower.endsWith('.jsonl')) {
    const records: Record<string, unknown>[] = [];
    body.split(/\r?\n/).forEach((line, i) => {
      if (!line.trim()) return;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        throw bad(name, `${name}, line ${i + 1}: not valid JSON.`);
      }
      if (!o || typeof o !== 'object' || Array.isArray(o))
        throw bad(name, `${name}, line ${i + 1}: expected an object.`);
      records.push(o as Record<string, unknown>);
    });
    return fromRecords(records, name, 'jsonl');
  }
  if (lower.endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch (e) {
      throw bad(name, `${name} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`);
    }
    // A list of rows, or an object of column lists (pandas' `to_json(orient="list")`).
    if (!Array.isArray(data) && data && typeof data === 'object') {
      const cols = Object.entries(data as Record<string, unknown>);
      if (cols.length > 0 && cols.every(([, v]) => Array.isArray(v))) {
        const n = (cols[0]![1] as unknown[]).length;
        data = Array.from({ length: n }, (_, i) => Object.fromEntries(cols.map(([k, v]) => [k, (v as unknown[])[i]])));
      }
    }
    if (!Array.isArray(data) || data.some((r) => !r || typeof r !== 'object' || Array.isArray(r)))
      throw bad(name, `${name}: expected a list of objects, one per image.`);
    return fromRecords(data as Record<string, unknown>[], name, 'json');
  }
  throw bad(name, `${name}: metadata must be .csv, .tsv, .json or .jsonl.`);
}

/** A metadata file among picked files: a table whose name says so, the shallowest first; null if none. */
export function findMetadataFile(paths: string[]): number | null {
  // The extension first, on the whole path: a 50,000-image folder has a handful of tables, and splitting
  // every path took 58–77 ms of the page's main thread on a 2-core machine.
  const candidates = paths
    .flatMap((p, i) => (/\.(csv|tsv|jsonl?)$/i.test(p) ? [i] : []))
    .map((i) => ({ i, base: paths[i]!.split('/').pop()!.toLowerCase(), d: paths[i]!.split('/').length }))
    .filter((c) => /meta|attribute|dollar|geode|images?_?info/.test(c.base))
    .filter((c) => !/caption|annotation|^classes\.json$/.test(c.base))
    .sort((a, b) => a.d - b.d || Number(/meta/.test(b.base)) - Number(/meta/.test(a.base)));
  return candidates[0]?.i ?? null;
}

export interface MetadataMatch {
  /** Per run image, its row (index into table.rows) or −1. */
  rowOf: Int32Array;
  /** Rows naming no image of the run (their file names). */
  missing: string[];
  /** Run images no row names. */
  unlisted: string[];
  /** Names that fit two images by their ending. */
  ambiguous: string[];
  /** Images named by more than one row (the first row is used). */
  duplicated: string[];
}

/** Match rows to the run's images by path, as caption files are matched. */
export function matchMetadata(table: MetadataTable, imagePaths: string[]): MetadataMatch {
  const { resolve, isAmbiguous } = pathResolver(imagePaths);
  const rowOf = new Int32Array(imagePaths.length).fill(-1);
  const missing: string[] = [];
  const ambiguous: string[] = [];
  const duplicated: string[] = [];
  table.rows.forEach((r, k) => {
    const i = resolve(r.file);
    if (i === undefined) (isAmbiguous(r.file) ? ambiguous : missing).push(r.file);
    else if (rowOf[i]! >= 0) duplicated.push(r.file);
    else rowOf[i] = k;
  });
  const unlisted = imagePaths.filter((_, i) => rowOf[i]! < 0);
  return { rowOf, missing, unlisted, ambiguous, duplicated };
}

/**
 * How each attribute column reads: numeric when every non-empty cell is a number, a list when any
 * cell is a list, else categories. Text columns with more distinct values than half the rows (and
 * over 20) — ids, URLs, captions — are left out.
 */
export function describeColumns(table: MetadataTable): { columns: MetadataColumn[]; ignored: string[] } {
  const columns: MetadataColumn[] = [];
  const ignored: string[] = [];
  for (const name of table.columns) {
    const cells = table.rows.map((r) => r.cells[name]).filter((c) => cellValues(c).length > 0);
    if (cells.length === 0) {
      ignored.push(name);
      continue;
    }
    const list = cells.some(isListCell);
    const number = !list && cells.every((c) => numberOf(c) !== null);
    const distinct = new Set(cells.flatMap(cellValues)).size;
    const kind: ColumnKind = number ? 'number' : list ? 'list' : 'category';
    // Text with a different value on most rows (ids, URLs, free text) makes no groups worth reading.
    if (kind !== 'number' && distinct > Math.max(20, cells.length / 2)) ignored.push(name);
    else columns.push({ name, kind, distinct });
  }
  return { columns, ignored };
}

/** A recognised column among `names` (case-insensitive), by the preference order of `known`. */
export function recognised(names: string[], known: string[]): string | null {
  const lower = names.map((c) => c.toLowerCase());
  for (const k of known) {
    const i = lower.indexOf(k);
    if (i >= 0) return names[i]!;
  }
  return null;
}

/** Numeric cells of a column per run image (NaN where no row or no value). */
export function numericValues(table: MetadataTable, match: MetadataMatch, column: string): Float64Array {
  return Float64Array.from(match.rowOf, (k) => (k < 0 ? NaN : (numberOf(table.rows[k]!.cells[column]) ?? NaN)));
}

/** Values of a column per run image ([] where no row or no value). */
export function categoryValues(table: MetadataTable, match: MetadataMatch, column: string): string[][] {
  return Array.from(match.rowOf, (k) => (k < 0 ? [] : cellValues(table.rows[k]!.cells[column])));
}

/**
 * A label column as the labels of a flat folder's images: per image (matched like every row, by
 * exact path or a unique ending) its values — a list cell gives several — null without a row.
 */
export function metadataLabels(table: MetadataTable, column: string): ImageLabels {
  return {
    file: table.name,
    column,
    of(paths) {
      const m = matchMetadata(table, paths);
      return Array.from(m.rowOf, (k) => (k < 0 ? null : cellValues(table.rows[k]!.cells[column])));
    },
  };
}
