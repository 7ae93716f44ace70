/**
 * A comparison of several models on one labelled folder. It owns a ClassifyState of its own (the same
 * run the Evaluate tab's Run button starts: cache, encoding, scoring) and drives it model after model
 * through the shared EngineState, so one model is resident at a time and the embedding cache makes a
 * re-run or an added model encode only what is new. Finished models keep their results; cancel stops
 * the comparison after (or inside) the current model and keeps what is done.
 */
import type { BackendChoice, DtypeChoice } from '../../workers/clip-api';
import type { ModelSource } from '../data/model-files';
import type { PickedFile } from '../data/folder-intake';
import { describeError } from '../data/errors';
import { resultsJson, round, timingJson, type ClassifyRun } from '../core/results';
import {
  disagreementByClass,
  longCsv,
  pairRuns,
  perClassDiffs,
  summarizePair,
  type ClassDiff,
  type ClassDisagreement,
  type PairedOutcomes,
  type PairSummary,
} from '../core/compare';
import { ClassifyState, type Progress } from './classify.svelte';
import { FrequencyState } from './frequency.svelte';
import { fitLogLinear } from '../core/frequency';
import { RetrievalComparison } from './compare-retrieval.svelte';
import type { EngineState, UserError } from './engine.svelte';
import type { StorageState } from './storage.svelte';

/** A model the user added: where it comes from, how to run it, and scoring scalars to set (SigLIP). */
export interface CompareModel {
  key: string;
  label: string;
  source: ModelSource;
  backend: BackendChoice;
  dtype: DtypeChoice;
  scale: number | null;
  bias: number | null;
}

/** What the table shows about a finished model, whatever the task. */
export interface ModelFacts {
  key: string;
  label: string;
  family: string;
  backend: string;
  dtype: string;
  embeddingDim: number;
  /** Bytes of the model's files as read (both towers and the JSON files). */
  downloadBytes: number;
  /** Images encoded per second of encoding; null when every embedding came from the cache. */
  imagesPerSec: number | null;
  /** What the run's settings were (folder, class names, templates): results of another signature are stale. */
  signature: string;
}

/** One finished model on the labelled folder. */
export interface CompareResult extends ModelFacts {
  run: ClassifyRun;
}

export interface PairView {
  a: CompareResult;
  b: CompareResult;
  paired: PairedOutcomes;
  summary: PairSummary;
  perClass: ClassDiff[];
  disagreement: ClassDisagreement[];
}

export interface CompareProgress {
  model: string;
  index: number;
  count: number;
  step: 'loading' | 'running';
  run: Progress | null;
}

const keyOf = (m: Omit<CompareModel, 'key' | 'label'>) =>
  `${m.source.kind === 'url' ? m.source.baseUrl : `folder:${m.source.id}`}|${m.dtype}|${m.backend}`;

export class CompareState {
  models = $state.raw<CompareModel[]>([]);
  results = $state.raw<CompareResult[]>([]);
  running = $state(false);
  error = $state<UserError | null>(null);
  /** The model being loaded or run, and the run's own progress. */
  step = $state<{ model: string; index: number; count: number; step: 'loading' | 'running' } | null>(null);
  /** Classification on a labelled folder, or retrieval on a captioned one. */
  task = $state<'classify' | 'retrieve'>('classify');
  /** The comparison's own run on the picked folder (the Evaluate tab keeps its own). */
  readonly cls: ClassifyState;
  /** The same for a captioned folder (the Retrieval tab keeps its own). */
  readonly retrieval: RetrievalComparison;
  /** Concept counts and class matches for the comparison's classes (one set of counts, a line per model). */
  readonly frequency: FrequencyState;
  private cancelled = false;

  readonly progress = $derived.by((): CompareProgress | null =>
    this.step
      ? { ...this.step, run: this.task === 'retrieve' ? this.retrieval.ret.progress : this.cls.progress }
      : null,
  );

  /** Results in the order the models were added (only those still in the list). */
  readonly ordered = $derived.by(() =>
    this.models.flatMap((m) => this.results.filter((r) => r.key === m.key && r.signature === this.signature())),
  );

  /** Each finished model's per-class points against the concept counts and its log-linear fit. */
  readonly frequencyFits = $derived.by(() =>
    this.ordered.map((r) => {
      const points = this.frequency.pointsFor(r.run);
      return { result: r, points, fit: fitLogLinear(points) };
    }),
  );

  /** Every pair (A before B in the list) on the images both scored. */
  readonly pairs = $derived.by((): PairView[] => {
    const rs = this.ordered;
    const out: PairView[] = [];
    for (let i = 0; i < rs.length; i++)
      for (let j = i + 1; j < rs.length; j++) {
        const a = rs[i]!;
        const b = rs[j]!;
        const paired = pairRuns(outcomes(a.run), outcomes(b.run));
        out.push({
          a,
          b,
          paired,
          summary: summarizePair(a.label, b.label, paired),
          perClass: perClassDiffs(paired, a.run.classNames),
          disagreement: disagreementByClass(paired, a.run.classNames),
        });
      }
    return out;
  });

  constructor(
    private engine: EngineState,
    storage: StorageState,
  ) {
    this.cls = new ClassifyState(engine, storage);
    this.retrieval = new RetrievalComparison(engine, storage, () => this.models.map((m) => m.key));
    this.frequency = new FrequencyState(this.cls);
  }

  /** Finished models of the current task, in list order. */
  get finished(): ModelFacts[] {
    return this.task === 'retrieve' ? this.retrieval.ordered : this.ordered;
  }

  /** The current task has its folder. */
  get hasFolder(): boolean {
    return this.task === 'retrieve' ? this.retrieval.ret.dataset !== null : this.cls.dataset !== null;
  }

  /** Add a model; false (with a message) when it is already in the list. */
  add(
    source: ModelSource,
    backend: BackendChoice = 'auto',
    dtype: DtypeChoice = 'auto',
    scalars?: {
      scale: number | null;
      bias: number | null;
    },
  ): boolean {
    const m = { source, backend, dtype, scale: scalars?.scale ?? null, bias: scalars?.bias ?? null };
    const key = keyOf(m);
    if (this.models.some((x) => x.key === key)) {
      this.error = { code: 'bad-input', message: `${source.id} (${dtype}, ${backend}) is already in the comparison.` };
      return false;
    }
    this.error = null;
    const label = this.models.some((x) => x.label === source.id) ? `${source.id} (${dtype}, ${backend})` : source.id;
    this.models = [...this.models, { ...m, key, label }];
    return true;
  }

  remove(key: string): void {
    if (this.running) return;
    this.models = this.models.filter((m) => m.key !== key);
    this.results = this.results.filter((r) => r.key !== key);
    this.retrieval.remove(key);
  }

  async setFolder(entries: PickedFile[]): Promise<void> {
    if (this.running) return;
    this.results = [];
    await this.cls.setFolder(entries);
  }

  /** A captioned folder for a retrieval comparison. */
  async setCaptionedFolder(entries: PickedFile[]): Promise<void> {
    if (this.running) return;
    await this.retrieval.setFolder(entries);
  }

  /** Folder, class names and templates: a model's results hold only while these are unchanged. */
  signature(): string {
    const d = this.cls.dataset;
    if (!d) return '';
    const t = this.cls.templateSet.set;
    return JSON.stringify([d.name, d.layout.images.length, this.cls.classNames, t?.templates ?? null]);
  }

  /**
   * Run every model that has no current result, one after another. Returns true when all finished;
   * false on cancel or the first failure (models finished before it keep their results).
   */
  async start(): Promise<boolean> {
    const retrieve = this.task === 'retrieve';
    if (this.running || !this.hasFolder || this.models.length < 1) return false;
    this.running = true;
    this.cancelled = false;
    this.error = null;
    const sig = this.signature();
    this.results = this.results.filter((r) => r.signature === sig);
    const left = retrieve
      ? new Set(this.retrieval.prune(this.models.map((m) => m.key)))
      : new Set(this.models.filter((m) => !this.results.some((r) => r.key === m.key)).map((m) => m.key));
    const todo = this.models.filter((m) => left.has(m.key));
    const folder = retrieve ? this.retrieval.ret.dataset!.name : this.cls.dataset!.name;
    try {
      for (const [i, m] of todo.entries()) {
        if (this.cancelled) return false;
        this.step = { model: m.label, index: i + 1, count: todo.length, step: 'loading' };
        if (!(await this.engine.load(m.source, m.backend, m.dtype))) {
          if (!this.cancelled)
            this.error = {
              code: this.engine.error?.code ?? 'bad-input',
              message: `${m.label} did not load: ${this.engine.error?.message ?? 'unknown error'}`,
            };
          return false;
        }
        if (m.scale !== null || m.bias !== null) this.engine.setScalars(m.scale, m.bias);
        if (this.cancelled) return false;
        this.step = { ...this.step, step: 'running' };
        const ok = retrieve
          ? await this.retrieval.runModel(this.factsOf(m))
          : (await this.cls.start()) && this.cls.run !== null;
        if (!ok) {
          const err = retrieve ? this.retrieval.ret.error : this.cls.error;
          if (!this.cancelled)
            this.error = {
              code: err?.code ?? 'bad-input',
              message: `${m.label} on ${folder}: ${err?.message ?? 'the run did not finish'}`,
            };
          return false;
        }
        if (!retrieve) this.results = [...this.results, this.resultOf(m, this.cls.run!, sig)];
      }
      return true;
    } catch (e) {
      this.error = describeError(e);
      return false;
    } finally {
      if (this.cancelled && !this.error) this.error = { code: 'cancelled', message: 'The comparison was cancelled.' };
      this.step = null;
      this.running = false;
    }
  }

  /** Stop the comparison: the current model's run is cancelled, finished models stay. */
  cancel(): void {
    this.cancelled = true;
    if (this.cls.running) this.cls.cancel();
    else if (this.retrieval.ret.running) this.retrieval.ret.cancel();
    else this.engine.cancel();
  }

  /** What the loaded model is: family, embedding size, bytes of its files. */
  private factsOf(m: CompareModel): Pick<ModelFacts, 'key' | 'label' | 'family' | 'embeddingDim' | 'downloadBytes'> {
    const info = this.engine.info!;
    return {
      key: m.key,
      label: m.label,
      family: info.family.label,
      embeddingDim: info.embeddingDim,
      downloadBytes: Object.values(info.files).reduce((s, b) => s + b, 0),
    };
  }

  private resultOf(m: CompareModel, run: ClassifyRun, signature: string): CompareResult {
    return {
      ...this.factsOf(m),
      run,
      backend: run.manifest.backend,
      dtype: run.manifest.dtype,
      imagesPerSec: timingJson(run.timing, run.cache).images_per_sec,
      signature,
    };
  }

  /** The table's row for a model (also the JSON's). */
  static row(r: CompareResult): Record<string, string | number | null> {
    const m = r.run.metrics;
    return {
      model: r.label,
      family: r.family,
      backend: r.backend,
      dtype: r.dtype,
      acc1: round(m.acc1),
      acc5: m.acc5 === null ? null : round(m.acc5),
      mean_per_class_recall: round(m.meanPerClassRecall),
      ece: round(m.ece),
      images_per_sec: r.imagesPerSec,
      download_bytes: r.downloadBytes,
      embedding_dim: r.embeddingDim,
    };
  }

  /** The comparison as JSON: each model's usual results, the table, and every pair's statistics. */
  comparisonJson(): Record<string, unknown> | null {
    if (this.task === 'retrieve') return this.retrieval.comparisonJson();
    const rs = this.ordered;
    if (rs.length === 0) return null;
    return {
      task: 'compare',
      dataset: this.cls.dataset?.name ?? null,
      models: rs.map((r) => ({ ...CompareState.row(r), results: resultsJson(r.run) })),
      comparison: { pairs: this.pairs.map((p) => pairJson(p)) },
      frequency: this.frequency.counts
        ? {
            counts: this.frequency.sourceText,
            models: this.frequencyFits.map((f) => ({ model: f.result.label, ...this.frequency.summary(f.fit) })),
          }
        : null,
    };
  }

  /** CLIP_benchmark's long CSV: one row per model × dataset × metric. */
  longCsv(): string | null {
    if (this.task === 'retrieve') return this.retrieval.longCsv();
    const rs = this.ordered;
    if (rs.length === 0) return null;
    return longCsv(
      rs.map((r) => {
        const row = CompareState.row(r);
        return {
          model: r.label,
          pretrained: r.dtype,
          dataset: this.cls.dataset?.name ?? 'dataset',
          task: 'zeroshot_classification',
          metrics: {
            acc1: row.acc1 as number | null,
            acc5: row.acc5 as number | null,
            mean_per_class_recall: row.mean_per_class_recall as number | null,
            ece: row.ece as number | null,
            images_per_sec: r.imagesPerSec,
          },
        };
      }),
    );
  }
}

function outcomes(run: ClassifyRun) {
  const k = run.predictions.k;
  return {
    files: run.files,
    labels: run.labels,
    preds: Int32Array.from(run.files, (_, i) => run.predictions.topk[i * k]!),
  };
}

/** One pair as the bench writes it: `{ a, b, both_right, only_a, only_b, both_wrong, mcnemar_p, acc_diff, acc_diff_ci95 }`. */
export function pairJson(p: PairView): Record<string, unknown> {
  const s = p.summary;
  return {
    a: s.a,
    b: s.b,
    n: s.n,
    both_right: s.both_right,
    only_a: s.only_a,
    only_b: s.only_b,
    both_wrong: s.both_wrong,
    mcnemar_p: s.mcnemar_p,
    acc_diff: round(s.acc_diff),
    acc_diff_ci95: s.acc_diff_ci95.map((x) => round(x)),
    per_class: p.perClass.map((c) => ({
      class: c.name,
      n_a: c.nA,
      n_b: c.nB,
      acc_a: round(c.accA),
      acc_b: round(c.accB),
      diff: round(c.diff),
      ci95: c.ci95.map((x) => round(x)),
    })),
    most_disagreement: p.disagreement.slice(0, 10).map((d) => ({ class: d.name, n: d.n, disagree: d.disagree })),
  };
}
