/**
 * Accuracy by slice of a classification run: the per-image metadata file (found beside the images
 * or picked), how it matched the run's images, the label rule (folder or metadata labels), numeric
 * bins, the minimum group size, and the per-attribute summaries the Slices view and the bench read.
 * Per-image outcomes come from the finished run (`ClassifyState.run`); nothing is re-run. The
 * statistics (bootstrap, permutation test, Holm, heatmap cells) are computed in the slices worker,
 * the latest request winning: the main thread only parses, groups and renders.
 */
import * as Comlink from 'comlink';
import {
  binnedValues,
  imageOutcomes,
  MIN_GROUP_SIZE,
  normLabel,
  sliceJson,
  sliceRows,
  type CrossCell,
  type ImageOutcomes,
  type SliceAttribute,
  type SliceSummary,
  type SlicesRequest,
} from '../core/slices';
import { quantileEdges } from '../core/stats';
import {
  categoryValues,
  COUNTRY_COLUMNS,
  describeColumns,
  findMetadataFile,
  LABEL_COLUMNS,
  matchMetadata,
  numericValues,
  parseMetadataFile,
  recognised,
  REGION_COLUMNS,
  type MetadataColumn,
  type MetadataMatch,
  type MetadataTable,
} from '../data/metadata';
import { describeError } from '../data/errors';
import type { ClassifyRun } from '../core/results';
import type { SlicesWorkerApi } from '../../workers/clip-api';
import type { ClassifyState, Dataset } from './classify.svelte';
import type { UserError } from './engine.svelte';

export const DEFAULT_BINS = 4;

/** The two-attribute table: top-1 per (row value, column value) pair, rows and columns in display order. */
export interface CrossResult {
  rows: string[];
  cols: string[];
  cells: CrossCell[];
}

let worker: Comlink.Remote<SlicesWorkerApi> | null = null;
let channels = 0;

/** The slices worker, shared by every SlicesState (each with its own job channels); made on first use. */
function slicesWorker(): Comlink.Remote<SlicesWorkerApi> {
  // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
  return (worker ??= Comlink.wrap<SlicesWorkerApi>(
    new Worker(new URL('../../workers/slices.worker.ts', import.meta.url), { type: 'module' }),
  ));
}

export interface LabelRule {
  /** The metadata column scored against, or null for folder labels. */
  column: string | null;
  /** Images whose metadata labels name at least one class of the run. */
  matched: number;
  note: string | null;
}

export class SlicesState {
  table = $state.raw<MetadataTable | null>(null);
  /** Where the table came from: "beside the images" or "picked". */
  origin = $state<'beside the images' | 'picked' | null>(null);
  error = $state<UserError | null>(null);
  /** The label column chosen ('' = folder labels); null until a table picks its default. */
  labelChoice = $state<string | null>(null);
  minSize = $state(MIN_GROUP_SIZE);
  includeSmall = $state(false);
  /** Inner bin edges per numeric column, when the user edited them. */
  cuts = $state<Record<string, number[]>>({});
  private seen: Dataset | null = null;
  /** The last finished statistics job: its request, summaries and worker time (ms). */
  private done = $state.raw<{ request: SlicesRequest | null; summaries: SliceSummary[]; ms: number }>({
    request: null,
    summaries: [],
    ms: 0,
  });
  private inflight: { request: SlicesRequest; promise: Promise<SliceSummary[]> } | null = null;
  private readonly channel = `slices-${++channels}`;
  private jobs = 0;
  private crossJobs = 0;
  private runJobs = 0;

  constructor(private classify: ClassifyState) {}

  get run(): ClassifyRun | null {
    return this.classify.run;
  }

  private get dataset(): Dataset | null {
    return this.classify.dataset;
  }

  readonly match = $derived.by((): MetadataMatch | null =>
    this.table && this.run ? matchMetadata(this.table, this.run.files) : null,
  );
  readonly described = $derived(this.table ? describeColumns(this.table) : { columns: [], ignored: [] });
  /** A flat folder's own label column (its classes came from it), else a recognised one, unless chosen. */
  readonly labelColumn = $derived(
    this.labelChoice === null
      ? this.table
        ? (this.dataset?.layout.labelSource?.column ?? recognised(this.table.columns, LABEL_COLUMNS))
        : null
      : this.labelChoice || null,
  );
  /** Attribute columns (every column but the file and the label). */
  readonly attributes = $derived(this.described.columns.filter((c) => c.name !== this.labelColumn));
  readonly countryColumn = $derived(this.table ? recognised(this.table.columns, COUNTRY_COLUMNS) : null);
  readonly regionColumn = $derived(this.table ? recognised(this.table.columns, REGION_COLUMNS) : null);

  readonly labelRule = $derived.by((): LabelRule => {
    const run = this.run;
    const col = this.labelColumn;
    if (!run || !this.table || !this.match || !col) return { column: null, matched: 0, note: null };
    const keys = new Set(run.classes.concat(run.classNames).map(normLabel));
    const values = categoryValues(this.table, this.match, col);
    const matched = values.filter((vs) => vs.some((v) => keys.has(normLabel(v)))).length;
    if (matched === 0)
      return {
        column: null,
        matched,
        note: `“${col}” names none of the run's classes (by folder or prompt name), so folder labels are used.`,
      };
    return { column: col, matched, note: null };
  });

  readonly outcomes = $derived.by((): ImageOutcomes | null => {
    const run = this.run;
    if (!run) return null;
    const col = this.labelRule.column;
    const accepted =
      col && this.table && this.match
        ? categoryValues(this.table, this.match, col).map((vs) => (vs.length ? vs : null))
        : undefined;
    return imageOutcomes(run.predictions, run.labels, run.classes, run.classNames, accepted);
  });

  /** Default bin edges (quantiles over the run's images) or the user's. */
  cutsFor(column: string): number[] {
    const edited = this.cuts[column];
    if (edited) return edited;
    if (!this.table || !this.match) return [];
    return quantileEdges(Array.from(numericValues(this.table, this.match, column)), DEFAULT_BINS);
  }

  /** Group values per run image of an attribute, and the groups' display order (bins in order). */
  groupsOf(column: MetadataColumn): { values: string[][]; order?: string[] } {
    if (!this.table || !this.match) return { values: [] };
    if (column.kind === 'number')
      return binnedValues(numericValues(this.table, this.match, column.name), this.cutsFor(column.name));
    return { values: categoryValues(this.table, this.match, column.name) };
  }

  /** Each attribute's groups per run image (parsed and binned here; cheap next to the statistics). */
  readonly attributeGroups = $derived.by((): SliceAttribute[] =>
    this.match ? this.attributes.map((c) => ({ name: c.name, ...this.groupsOf(c) })) : [],
  );

  /** What the statistics are computed from: a new object whenever an input changes. */
  readonly request = $derived.by((): SlicesRequest | null => {
    const o = this.outcomes;
    if (!o || !this.match) return null;
    return { outcomes: o, attributes: this.attributeGroups, minSize: this.minSize, includeSmall: this.includeSmall };
  });

  /**
   * Every attribute's summary, with Holm-adjusted gap p-values across them: those of the current
   * request once computed; while a newer request computes, the last ones of the same run (so a bar
   * stays clickable); else none.
   */
  readonly summaries = $derived.by((): SliceSummary[] => {
    const req = this.request;
    const done = this.done;
    return req && done.request?.outcomes.label === req.outcomes.label ? done.summaries : [];
  });

  /** The statistics of the current settings are being computed (in the worker). */
  readonly computing = $derived(this.request !== null && this.done.request !== this.request);

  /** Worker time of the last finished statistics job (ms). */
  get computeMs(): number {
    return this.done.ms;
  }

  /**
   * Compute the current settings' summaries in the worker. A newer request supersedes an older one
   * (the worker drops it at its next attribute) and every caller gets the newest figures.
   */
  update(): Promise<SliceSummary[]> {
    const req = this.request;
    if (!req) return Promise.resolve([]);
    if (this.done.request === req) return Promise.resolve(this.done.summaries);
    if (this.inflight?.request === req) return this.inflight.promise;
    const job = ++this.jobs;
    const promise = slicesWorker()
      .summarize(req, this.channel, job)
      .then(
        (r): Promise<SliceSummary[]> | SliceSummary[] => {
          if (r === null || job !== this.jobs) return this.update();
          this.inflight = null;
          this.done = { request: req, summaries: r.summaries, ms: r.ms };
          return r.summaries;
        },
        (e: unknown) => {
          this.inflight = null;
          this.error = describeError(e);
          this.done = { request: req, summaries: [], ms: 0 };
          return [];
        },
      );
    this.inflight = { request: req, promise };
    return promise;
  }

  /**
   * Every attribute's summary for another run on the same kind of folder (a model of a comparison):
   * the same metadata, label rule, bin edges (edited, else quartiles over that run's images) and sizes.
   */
  async summariesFor(run: ClassifyRun): Promise<SliceSummary[]> {
    const t = this.table;
    if (!t) return [];
    const m = matchMetadata(t, run.files);
    const col = this.labelRule.column;
    const accepted = col ? categoryValues(t, m, col).map((vs) => (vs.length ? vs : null)) : undefined;
    const outcomes = imageOutcomes(run.predictions, run.labels, run.classes, run.classNames, accepted);
    const attributes = this.attributes.map((c): SliceAttribute => {
      if (c.kind !== 'number') return { name: c.name, values: categoryValues(t, m, c.name) };
      const nums = numericValues(t, m, c.name);
      return {
        name: c.name,
        ...binnedValues(nums, this.cuts[c.name] ?? quantileEdges(Array.from(nums), DEFAULT_BINS)),
      };
    });
    // A channel of its own: the models of a comparison are computed side by side, none supersedes another.
    const req: SlicesRequest = { outcomes, attributes, minSize: this.minSize, includeSmall: this.includeSmall };
    const r = await slicesWorker().summarize(req, `${this.channel}-run-${++this.runJobs}`, 0);
    return r?.summaries ?? [];
  }

  /** The two-attribute table (e.g. region × income), from the worker; null when a newer one was asked for. */
  async cross(rowName: string, colName: string): Promise<CrossResult | null> {
    const o = this.outcomes;
    const r = this.attributes.find((c) => c.name === rowName);
    const c = this.attributes.find((x) => x.name === colName);
    if (!o || !r || !c) return null;
    const rg = this.groupsOf(r);
    const cg = this.groupsOf(c);
    const job = ++this.crossJobs;
    const t = await slicesWorker().cross(rg.values, cg.values, o, `${this.channel}-cross`, job);
    if (!t || job !== this.crossJobs) return null;
    const sortBy = (vals: string[], order?: string[]) =>
      order ? order.filter((v) => vals.includes(v)) : [...vals].sort((a, b) => a.localeCompare(b));
    return { ...t, rows: sortBy(t.rows, rg.order), cols: sortBy(t.cols, cg.order) };
  }

  /** Country of each region, read from the metadata's own rows (the most frequent pairing). */
  regionCountries(): Map<string, string> {
    const out = new Map<string, string>();
    const t = this.table;
    if (!t || !this.countryColumn || !this.regionColumn) return out;
    const counts = new Map<string, Map<string, number>>();
    for (const r of t.rows) {
      const country = String(r.cells[this.countryColumn] ?? '').trim();
      const region = String(r.cells[this.regionColumn] ?? '').trim();
      if (!country || !region) continue;
      const m = counts.get(country) ?? new Map<string, number>();
      m.set(region, (m.get(region) ?? 0) + 1);
      counts.set(country, m);
    }
    for (const [country, m] of counts) out.set(country, [...m].sort((a, b) => b[1] - a[1])[0]![0]);
    return out;
  }

  /** Find and read the metadata file of a newly picked folder (once per folder). */
  async sync(dataset: Dataset | null): Promise<void> {
    if (dataset === this.seen) return;
    this.seen = dataset;
    if (this.origin === 'beside the images' || dataset === null) this.clear();
    // The folder's classes came from a metadata file (its attributes are in the same file), or the intake
    // already read the file beside the images (not parsed twice).
    const labels = this.classify.labelMetadata;
    const besides = labels?.origin === 'beside the images' && this.origin !== 'picked';
    if (dataset && labels && (dataset.layout.labelSource || besides)) {
      this.clear();
      this.table = labels.table;
      this.origin = labels.origin;
      return;
    }
    if (!dataset || this.origin === 'picked') return;
    const i = findMetadataFile(dataset.entries.map((e) => e.path));
    if (i === null) return;
    const f = dataset.entries[i]!;
    this.load(f.path.split('/').pop() ?? f.path, await f.file.text(), 'beside the images');
  }

  /** Use a metadata file the user picks (replaces one found beside the images). */
  async importFile(file: File): Promise<boolean> {
    return this.load(file.name, await file.text(), 'picked');
  }

  /** Parse and use metadata text (the bench's `--metadata`). Errors name the file. */
  importText(name: string, text: string): boolean {
    return this.load(name, text, 'picked');
  }

  private load(name: string, text: string, origin: 'beside the images' | 'picked'): boolean {
    try {
      const table = parseMetadataFile(name, text);
      this.clear();
      this.table = table;
      this.origin = origin;
      return true;
    } catch (e) {
      this.error = describeError(e);
      return false;
    }
  }

  clear(): void {
    this.table = null;
    this.origin = null;
    this.error = null;
    this.labelChoice = null;
    this.cuts = {};
  }

  /**
   * The bench's `slices` object for the named columns: `{ <column>: { groups, worst, best, gap,
   * gap_ci95, gap_p_value } }`; an unknown column throws, naming the columns there are.
   */
  async benchJson(columns: string[]): Promise<Record<string, Record<string, unknown>>> {
    const summaries = await this.update();
    const out: Record<string, Record<string, unknown>> = {};
    for (const name of columns) {
      const s = summaries.find((x) => x.attribute === name);
      if (!s) {
        const names = this.attributes.map((c) => c.name).join(', ');
        throw new Error(
          `No attribute column “${name}” in ${this.table?.name ?? 'the metadata'} (there are: ${names}).`,
        );
      }
      out[name] = sliceJson(s);
    }
    return out;
  }

  /** The per-slice export: the bench's object for every attribute plus every figure per group. */
  async exportJson(): Promise<Record<string, unknown>> {
    const summaries = await this.update();
    return {
      metadata: this.table?.name ?? null,
      label_rule: this.labelRule.column ? `any of “${this.labelRule.column}”` : 'folder',
      min_group_size: this.minSize,
      include_small_groups: this.includeSmall,
      bins: Object.fromEntries(
        this.attributes.filter((c) => c.kind === 'number').map((c) => [c.name, this.cutsFor(c.name)]),
      ),
      slices: await this.benchJson(summaries.map((s) => s.attribute)),
      gap_p_holm: Object.fromEntries(summaries.map((s) => [s.attribute, s.gap_p_holm])),
      groups: summaries.flatMap(sliceRows),
    };
  }

  async exportCsv(): Promise<string> {
    const rows = (await this.update()).flatMap(sliceRows);
    if (rows.length === 0) return '';
    const cols = Object.keys(rows[0]!);
    const esc = (v: unknown) => {
      const s = String(v);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return [cols.join(','), ...rows.map((r) => cols.map((c) => esc(r[c])).join(','))].join('\n') + '\n';
  }
}
