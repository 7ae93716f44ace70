/**
 * Counts concepts in a caption corpus (plain text, CSV/TSV, JSONL; millions of lines) streamed from
 * the file, off the main thread, with byte progress and cancel.
 */
import * as Comlink from 'comlink';
import { csvParseRows, tsvParseRows } from 'd3-dsv';
import { ConceptCounter } from '../src/core/frequency';

export interface CountResult {
  counts: Record<string, number>;
  captions: number;
  /** Lines that were not captions (a header, blank lines, JSONL lines without a caption field). */
  skippedLines: number;
  ms: number;
  format: CorpusFormat;
}

export type CorpusFormat = 'text' | 'csv' | 'tsv' | 'jsonl';

const CAPTION_FIELDS = ['caption', 'text', 'TEXT', 'sentence', 'raw', 'alt', 'title'];

export function corpusFormat(name: string): CorpusFormat {
  const n = name.toLowerCase();
  if (n.endsWith('.csv')) return 'csv';
  if (n.endsWith('.tsv')) return 'tsv';
  if (n.endsWith('.jsonl') || n.endsWith('.ndjson') || n.endsWith('.json')) return 'jsonl';
  return 'text';
}

let job = new AbortController();

const api = {
  /**
   * Stream the file line by line and count, for each concept, the captions that mention it. CSV/TSV:
   * the column named caption/text/… in the header, else the last column; JSONL: the first of those fields.
   */
  async count(
    file: File,
    concepts: string[],
    onProgress?: (bytes: number, captions: number) => void,
  ): Promise<CountResult> {
    const signal = job.signal;
    const t0 = performance.now();
    const format = corpusFormat(file.name);
    const counter = new ConceptCounter(concepts);
    let column = -1; // csv/tsv caption column, decided by the first row
    let skipped = 0;
    let pendingQuoted = ''; // a CSV record whose quoted field spans lines
    let lineNo = 0;
    const onLine = (raw: string) => {
      lineNo += 1;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (format === 'text') {
        if (line.trim()) counter.add(line);
        else skipped += 1;
        return;
      }
      if (format === 'jsonl') {
        if (!line.trim()) return void (skipped += 1);
        let obj: unknown;
        try {
          obj = JSON.parse(line);
        } catch {
          throw new Error(`${file.name}, line ${lineNo}: not a JSON object (JSONL needs one object per line).`);
        }
        const rec = obj as Record<string, unknown>;
        const field = CAPTION_FIELDS.find((f) => typeof rec[f] === 'string');
        if (field) counter.add(rec[field] as string);
        else skipped += 1;
        return;
      }
      const record = pendingQuoted ? `${pendingQuoted}\n${line}` : line;
      if (format === 'csv' && (record.match(/"/g)?.length ?? 0) % 2 === 1) {
        pendingQuoted = record; // an open quote: the record goes on in the next line
        return;
      }
      pendingQuoted = '';
      const row = (format === 'csv' ? csvParseRows(record) : tsvParseRows(record))[0] ?? [];
      if (column < 0) {
        const header = row.map((c) => c.trim());
        const named = header.findIndex((c) => CAPTION_FIELDS.includes(c) || CAPTION_FIELDS.includes(c.toLowerCase()));
        column = named >= 0 ? named : Math.max(0, row.length - 1);
        if (named >= 0 || row.length > 1) return void (skipped += 1); // the header
      }
      const cell = row[column];
      if (cell && cell.trim()) counter.add(cell);
      else skipped += 1;
    };

    const reader = file.stream().pipeThrough(new TextDecoderStream()).getReader();
    let rest = '';
    let bytes = 0;
    let lastReport = 0;
    for (;;) {
      if (signal.aborted) throw new DOMException('Cancelled.', 'AbortError');
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.length; // characters, a close proxy of bytes for progress
      const chunk = rest + value;
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        onLine(chunk.slice(start, nl));
        start = nl + 1;
      }
      rest = chunk.slice(start);
      if (onProgress && performance.now() - lastReport > 100) {
        lastReport = performance.now();
        onProgress(Math.min(bytes, file.size), counter.texts);
      }
    }
    if (rest) onLine(rest);
    if (pendingQuoted) throw new Error(`${file.name}: a quoted CSV field is never closed.`);
    onProgress?.(file.size, counter.texts);
    return {
      counts: counter.counts(),
      captions: counter.texts,
      skippedLines: skipped,
      ms: performance.now() - t0,
      format,
    };
  },

  cancel(): void {
    job.abort();
    job = new AbortController();
  },
};

export type FrequencyWorkerApi = typeof api;

Comlink.expose(api);
