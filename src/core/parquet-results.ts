/**
 * A classification run as a Parquet file that DuckDB, Spark, pandas or a warehouse read directly, so a
 * team can pool many runs: one row per scored image (file, true class, prediction, correctness, top-1
 * probability, top-k classes and probabilities as lists), then one column per slice attribute when the
 * run has slice metadata, and optionally the image embedding as a list of floats. The run's manifest
 * (model, file hashes, backend, templates, class names) rides along as key/value metadata.
 *
 *   SELECT label, avg(correct::INT) AS recall FROM 'run.parquet' GROUP BY label;
 */
import { parquetWriteBuffer, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import type { ClassifyRun } from './results';

/** A slice attribute: one value per scored image in run order (null: none), several joined by "|". */
export interface SliceAttribute {
  name: string;
  values: (string | null)[];
}

export interface ParquetResultsOptions {
  slices?: readonly SliceAttribute[];
  /** n×dim image embeddings in run order (rows unit-norm), written as `embedding` list<float>. */
  embeddings?: { data: Float32Array; dim: number } | null;
}

const RESERVED = new Set([
  'file',
  'label',
  'label_name',
  'pred',
  'pred_name',
  'correct',
  'score',
  'top_classes',
  'top_scores',
  'embedding',
]);

const required = (name: string, type: SchemaElement['type'], utf8 = false): SchemaElement => ({
  name,
  type,
  repetition_type: 'REQUIRED',
  ...(utf8 ? { converted_type: 'UTF8' as const } : {}),
});

/** The three-level Parquet LIST that DuckDB and Spark read as an array column. */
function listOf(name: string, type: SchemaElement['type'], utf8 = false): SchemaElement[] {
  return [
    { name, repetition_type: 'REQUIRED', num_children: 1, converted_type: 'LIST' },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    required('element', type, utf8),
  ];
}

/** Parquet bytes of the run's per-image results (see the module comment for the columns). */
export function resultsParquet(run: ClassifyRun, opts: ParquetResultsOptions = {}): ArrayBuffer {
  const n = run.files.length;
  const { predictions: p, classes, classNames } = run;
  const k = p.k;
  const labelIdx = Array.from(run.labels);
  const predIdx = Array.from({ length: n }, (_, i) => p.topk[i * k]!);
  const prob = (i: number, j: number) => {
    const v = p.topkProb[i * k + j]!;
    return Number.isFinite(v) ? v : NaN;
  };
  const columnData: ColumnSource[] = [
    { name: 'file', data: run.files },
    { name: 'label', data: labelIdx.map((c) => classes[c]!) },
    { name: 'label_name', data: labelIdx.map((c) => classNames[c]!) },
    { name: 'pred', data: predIdx.map((c) => classes[c]!) },
    { name: 'pred_name', data: predIdx.map((c) => classNames[c]!) },
    { name: 'correct', data: predIdx.map((c, i) => c === labelIdx[i]) },
    { name: 'score', data: Float32Array.from({ length: n }, (_, i) => prob(i, 0)) },
    {
      name: 'top_classes',
      data: Array.from({ length: n }, (_, i) => Array.from({ length: k }, (_, j) => classes[p.topk[i * k + j]!]!)),
    },
    { name: 'top_scores', data: Array.from({ length: n }, (_, i) => Array.from({ length: k }, (_, j) => prob(i, j))) },
  ];
  const schema: SchemaElement[] = [
    required('file', 'BYTE_ARRAY', true),
    required('label', 'BYTE_ARRAY', true),
    required('label_name', 'BYTE_ARRAY', true),
    required('pred', 'BYTE_ARRAY', true),
    required('pred_name', 'BYTE_ARRAY', true),
    required('correct', 'BOOLEAN'),
    required('score', 'FLOAT'),
    ...listOf('top_classes', 'BYTE_ARRAY', true),
    ...listOf('top_scores', 'FLOAT'),
  ];
  const seen = new Set<string>();
  for (const s of opts.slices ?? []) {
    if (s.values.length !== n) {
      throw new Error(`Slice attribute “${s.name}” has ${s.values.length} values for ${n} scored images.`);
    }
    // A slice column never shadows a result column (a metadata column called "label" becomes "slice_label").
    const name = RESERVED.has(s.name) || seen.has(s.name) ? `slice_${s.name}` : s.name;
    seen.add(name);
    columnData.push({ name, data: s.values });
    schema.push({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
  }
  const emb = opts.embeddings;
  if (emb) {
    if (emb.data.length !== n * emb.dim) {
      throw new Error(`The embeddings hold ${emb.data.length / emb.dim} rows of ${emb.dim} for ${n} scored images.`);
    }
    columnData.push({
      name: 'embedding',
      data: Array.from({ length: n }, (_, i) => Array.from(emb.data.subarray(i * emb.dim, (i + 1) * emb.dim))),
    });
    schema.push(...listOf('embedding', 'FLOAT'));
  }
  schema.unshift({ name: 'root', num_children: columnData.length });
  const m = run.manifest;
  return parquetWriteBuffer({
    columnData,
    schema,
    createdBy: `zero-shot-workbench ${m.app_version}`,
    kvMetadata: [
      { key: 'zsw.task', value: 'classify' },
      { key: 'zsw.model', value: JSON.stringify(m.model) },
      { key: 'zsw.backend', value: m.backend },
      { key: 'zsw.dtype', value: m.dtype },
      { key: 'zsw.templates', value: JSON.stringify(m.templates) },
      { key: 'zsw.classes', value: JSON.stringify(Object.fromEntries(classes.map((c, i) => [c, classNames[i]]))) },
      { key: 'zsw.date', value: m.date },
    ],
  });
}
