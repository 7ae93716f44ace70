/**
 * The concept-frequency view's state: where counts come from (the paper's published tables, an
 * imported file, or the user's own captions counted in a worker), how classes match concepts (with
 * manual fixes), and the per-class points, log-linear fit and bins of the current classification run.
 */
import * as Comlink from 'comlink';
import {
  fitLogLinear,
  logBins,
  matchConcepts,
  parseCountTable,
  type FrequencyPoint,
  type LogLinearFit,
} from '../core/frequency';
import { csvRows } from '../core/results';
import { conceptCountSql, DEFAULT_CAPTION_SOURCE, type CaptionSource, type SqlDialect } from '../core/concept-sql';
import { describeError } from '../data/errors';
import type { CountResult, FrequencyWorkerApi } from '../../workers/clip-api';
import type { ClassifyRun } from '../core/results';
import type { ClassifyState } from './classify.svelte';
import type { UserError } from './engine.svelte';

/** What a model was pretrained on, to tell when counts are only a proxy. */
export const PRETRAIN_SETS: Record<string, string> = {
  unknown: 'not known',
  'openai-wit': 'OpenAI WIT-400M (original CLIP)',
  cc3m: 'CC-3M',
  cc12m: 'CC-12M',
  yfcc15m: 'YFCC-15M',
  laion400m: 'LAION-400M',
  synthci30m: 'SynthCI-30M',
  'own-captions': 'the captions counted or imported here',
};

export interface PublishedTable {
  pretrain: string;
  pretrainLabel: string;
  method: string;
  methodLabel: string;
  counts: Record<string, number>;
}

interface CatalogEntry {
  dataset: string;
  file: string;
  /** "pretrain/method" ids. */
  tables: string[];
}

interface PublishedDataset {
  dataset: string;
  source: string;
  tables: PublishedTable[];
}

export type CountSource =
  | {
      kind: 'published';
      dataset: string;
      pretrain: string;
      pretrainLabel: string;
      method: string;
      methodLabel: string;
      citation: string;
    }
  | { kind: 'imported'; name: string }
  | { kind: 'captions'; name: string; captions: number; ms: number };

/** Guess the pretraining set from a model id (the user can change it). */
export function guessPretrain(modelId: string): string {
  const id = modelId.toLowerCase();
  if (/laion.?400m/.test(id)) return 'laion400m';
  if (/yfcc/.test(id)) return 'yfcc15m';
  if (/cc12m/.test(id)) return 'cc12m';
  if (/cc3m/.test(id)) return 'cc3m';
  if (/openai|xenova\/clip-vit/.test(id)) return 'openai-wit';
  return 'unknown';
}

export interface FitSummary {
  pearson_r: number;
  p_value: number;
  slope_per_decade: number;
  intercept: number;
  n_concepts: number;
}

export class FrequencyState {
  source = $state.raw<CountSource | null>(null);
  counts = $state.raw<Record<string, number> | null>(null);
  /** Class folder → concept, set by hand; '' means "leave this class out". */
  overrides = $state<Record<string, string>>({});
  modelPretrain = $state('unknown');
  catalog = $state.raw<CatalogEntry[]>([]);
  counting = $state<{ bytes: number; total: number; captions: number; startedAt: number } | null>(null);
  lastCount = $state.raw<CountResult | null>(null);
  error = $state<UserError | null>(null);

  private worker: Comlink.Remote<FrequencyWorkerApi> | null = null;
  private published = new Map<string, Promise<PublishedDataset>>();
  private guessedFor = '';

  constructor(private cls: ClassifyState) {}

  get run() {
    return this.cls.run;
  }

  /** Matched concept per class (auto-matched, then manual fixes). */
  readonly matches = $derived.by((): (string | null)[] => {
    const run = this.run;
    if (!run || !this.counts) return [];
    const auto = matchConcepts(
      run.classes.map((key, i) => ({ key, name: run.classNames[i]! })),
      Object.keys(this.counts),
    );
    return run.classes.map((key, i) => {
      const o = this.overrides[key];
      if (o === undefined) return auto[i]!;
      return o === '' || !(o in this.counts!) ? null : o;
    });
  });

  readonly points = $derived.by((): FrequencyPoint[] => (this.run ? this.pointsFor(this.run) : []));

  /**
   * Per-class points of any run over the same classes as this one (a model comparison: every model
   * ran on the same folder and class names, so the matches hold for each).
   */
  pointsFor(run: ClassifyRun): FrequencyPoint[] {
    const counts = this.counts;
    if (!counts) return [];
    const out: FrequencyPoint[] = [];
    run.classes.forEach((key, i) => {
      const concept = this.matches[i];
      const stat = run.metrics.perClass[i]!;
      if (concept && stat.support > 0) {
        out.push({ key, concept, accuracy: stat.recall, count: counts[concept]!, support: stat.support });
      }
    });
    return out;
  }

  readonly fit = $derived.by((): LogLinearFit | null => fitLogLinear(this.points));
  readonly bins = $derived(logBins(this.points, 12));
  /** Classes with a concept but a count of 0: a log axis cannot show them; they stay out of the fit. */
  readonly zeroCount = $derived(this.points.filter((p) => p.count <= 0));

  /** Where the counts came from, in words. */
  readonly sourceText = $derived.by((): string => {
    const s = this.source;
    if (!s) return '';
    if (s.kind === 'published') return `${s.dataset} concepts in ${s.pretrainLabel} (${s.methodLabel}); ${s.citation}`;
    if (s.kind === 'imported') return `imported from ${s.name}`;
    return `counted in ${s.captions.toLocaleString('en-US')} captions of ${s.name} (${(s.ms / 1000).toFixed(1)} s)`;
  });

  /** Why these counts may not describe this model's pretraining data; null when they do. */
  readonly proxyNote = $derived.by((): string | null => {
    const s = this.source;
    if (!s) return null;
    const model = PRETRAIN_SETS[this.modelPretrain] ?? this.modelPretrain;
    if (s.kind === 'published') {
      if (this.modelPretrain === s.pretrain) return null;
      return (
        `These counts come from ${s.pretrainLabel}, but this model was pretrained on ${model}: ` +
        `the plot uses them as a proxy for the model's real concept frequencies.`
      );
    }
    if (this.modelPretrain === 'own-captions') return null;
    const what = s.kind === 'captions' ? `captions in ${s.name}` : `${s.name}`;
    return `Counts from ${what}. They describe this model only if that is its pretraining data (set “pretrained on” to say so).`;
  });

  private api(): Comlink.Remote<FrequencyWorkerApi> {
    if (!this.worker) {
      // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
      const w = new Worker(new URL('../../workers/frequency.worker.ts', import.meta.url), { type: 'module' });
      this.worker = Comlink.wrap<FrequencyWorkerApi>(w);
    }
    return this.worker;
  }

  /** The shipped tables' index, and a first guess of the model's pretraining set. */
  async init(modelId: string): Promise<void> {
    if (this.guessedFor !== modelId) {
      this.guessedFor = modelId;
      this.modelPretrain = guessPretrain(modelId);
    }
    if (this.catalog.length > 0) return;
    try {
      const res = await fetch('./frequencies/index.json');
      if (res.ok) this.catalog = ((await res.json()) as { datasets: CatalogEntry[] }).datasets;
    } catch {
      this.catalog = [];
    }
  }

  private publishedDataset(dataset: string): Promise<PublishedDataset> {
    let p = this.published.get(dataset);
    if (!p) {
      const entry = this.catalog.find((d) => d.dataset === dataset);
      if (!entry) return Promise.reject(new Error(`No published counts for ${dataset}.`));
      p = fetch(`./frequencies/${entry.file}`).then((r) => {
        if (!r.ok) throw new Error(`frequencies/${entry.file}: HTTP ${r.status}`);
        return r.json() as Promise<PublishedDataset>;
      });
      p.catch(() => this.published.delete(dataset));
      this.published.set(dataset, p);
    }
    return p;
  }

  /** Use a published table: dataset × pretraining set × search method. */
  async usePublished(dataset: string, pretrain: string, method: string): Promise<void> {
    this.error = null;
    try {
      const d = await this.publishedDataset(dataset);
      const t = d.tables.find((x) => x.pretrain === pretrain && x.method === method);
      if (!t) throw new Error(`No ${pretrain} / ${method} table for ${dataset}.`);
      this.setCounts(t.counts, {
        kind: 'published',
        dataset,
        pretrain,
        pretrainLabel: t.pretrainLabel,
        method,
        methodLabel: t.methodLabel,
        citation: d.source,
      });
    } catch (e) {
      this.error = describeError(e);
    }
  }

  /** Import `{concept: count}` JSON or `concept,count` CSV/TSV (the bench calls this too). */
  importText(name: string, text: string): boolean {
    this.error = null;
    try {
      this.setCounts(parseCountTable(name, text), { kind: 'imported', name });
      return true;
    } catch (e) {
      this.error = { code: 'bad-input', message: e instanceof Error ? e.message : String(e) };
      return false;
    }
  }

  async importFile(file: File): Promise<boolean> {
    return this.importText(file.name, await file.text());
  }

  /**
   * Count the run's class concepts in a caption corpus: each class's prompt name, its folder name and
   * the concept already chosen for it (the names it can be matched by).
   */
  async countCaptions(file: File): Promise<boolean> {
    const run = this.run;
    if (!run || this.counting) return false;
    this.error = null;
    const concepts = this.countConcepts();
    this.counting = { bytes: 0, total: file.size, captions: 0, startedAt: performance.now() };
    try {
      const r = await this.api().count(
        file,
        concepts,
        Comlink.proxy((bytes: number, captions: number) => {
          if (this.counting) Object.assign(this.counting, { bytes, captions });
        }),
      );
      this.lastCount = r;
      this.setCounts(r.counts, { kind: 'captions', name: file.name, captions: r.captions, ms: r.ms });
      return true;
    } catch (e) {
      this.error = describeError(e);
      return false;
    } finally {
      this.counting = null;
    }
  }

  /** What a caption count covers: each class's prompt name, folder name and the concept chosen for it. */
  countConcepts(): string[] {
    const run = this.run;
    if (!run) return [];
    return [
      ...new Set(
        run.classes.flatMap((key, i) =>
          [run.classNames[i]!, key, this.overrides[key] || this.matches[i] || ''].filter(Boolean),
        ),
      ),
    ];
  }

  /**
   * The same count as a SQL script for DuckDB or Spark SQL over caption shards (same matching rules,
   * plural forms written in as data); its `concept,count` output imports back with `importFile`.
   */
  sqlScript(dialect: SqlDialect, source: CaptionSource = DEFAULT_CAPTION_SOURCE): string | null {
    const concepts = this.countConcepts();
    return concepts.length > 0 ? conceptCountSql(concepts, dialect, source) : null;
  }

  cancelCounting(): void {
    void this.worker?.cancel();
  }

  private setCounts(counts: Record<string, number>, source: CountSource): void {
    this.counts = counts;
    this.source = source;
    this.overrides = {};
  }

  /** What the bench adds to its JSON: r and slope over the per-class points (accuracy as a fraction). */
  summary(fit: LogLinearFit | null = this.fit): FitSummary | null {
    const f = fit;
    if (!f) return null;
    return {
      pearson_r: f.pearsonR,
      p_value: f.pValue,
      slope_per_decade: f.slope,
      intercept: f.intercept,
      n_concepts: f.n,
    };
  }

  /** One row per class: folder, prompt name, concept, count, accuracy, support. */
  csv(): string {
    const run = this.run;
    if (!run) return '';
    const rows: (string | number)[][] = [['class', 'name', 'concept', 'count', 'accuracy', 'support']];
    run.classes.forEach((key, i) => {
      const concept = this.matches[i] ?? '';
      const stat = run.metrics.perClass[i]!;
      rows.push([
        key,
        run.classNames[i]!,
        concept,
        concept && this.counts ? this.counts[concept]! : '',
        stat.recall.toFixed(6),
        stat.support,
      ]);
    });
    return csvRows(rows);
  }
}
