/**
 * The retrieval half of a model comparison: one captioned folder, the Retrieval tab's own run (cache,
 * encoding, ranking in the analysis worker) driven per model by CompareState, and what the view and
 * the exports read — each model's Recall@K both ways and, per pair, paired statistics on the same
 * queries (a caption found within K, an image whose caption is found within K).
 */
import { longCsv, summarizeOutcomes, type PairSummary } from '../core/compare';
import {
  pairRetrieval,
  summarizeRetrievalPair,
  type PairedQueries,
  type RecallK,
  type RetrievalDirection,
} from '../core/compare-retrieval';
import { round, timingJson } from '../core/results';
import { RECALL_KS } from '../core/retrieval';
import { retrievalJson, retrievalMetricsJson, type RetrievalRun } from '../core/retrieval-results';
import type { PickedFile } from '../data/folder-intake';
import type { EngineState } from './engine.svelte';
import { RetrieveState } from './retrieve.svelte';
import type { StorageState } from './storage.svelte';
import type { ModelFacts } from './compare.svelte';

export interface RetrievalCompareResult extends ModelFacts {
  run: RetrievalRun;
}

export interface RetrievalPairView {
  a: RetrievalCompareResult;
  b: RetrievalCompareResult;
  paired: PairedQueries;
  summary: PairSummary;
}

/** CLIP_benchmark's names: "image retrieval" is text→image, "text retrieval" is image→text. */
const BENCHMARK_NAME: Record<RetrievalDirection, string> = {
  text_to_image: 'image_retrieval_recall',
  image_to_text: 'text_retrieval_recall',
};

export class RetrievalComparison {
  results = $state.raw<RetrievalCompareResult[]>([]);
  /** The pair statistics shown: which direction and K. */
  direction = $state<RetrievalDirection>('text_to_image');
  k = $state<RecallK>(5);
  readonly ret: RetrieveState;

  constructor(
    engine: EngineState,
    storage: StorageState,
    private modelKeys: () => string[],
  ) {
    this.ret = new RetrieveState(engine, storage);
  }

  /** Folder, caption source and captions: a model's results hold only while these are unchanged. */
  signature(): string {
    const d = this.ret.dataset;
    if (!d) return '';
    return JSON.stringify([d.name, d.images.length, d.captionSource, d.match?.captions.length ?? 0]);
  }

  readonly ordered = $derived.by(() =>
    this.modelKeys().flatMap((k) => this.results.filter((r) => r.key === k && r.signature === this.signature())),
  );

  /** Every pair (A before B) on the shown direction and K. */
  readonly pairs = $derived.by((): RetrievalPairView[] => {
    const rs = this.ordered;
    const out: RetrievalPairView[] = [];
    for (let i = 0; i < rs.length; i++)
      for (let j = i + 1; j < rs.length; j++) {
        const [a, b] = [rs[i]!, rs[j]!];
        const paired = pairRetrieval(a.run, b.run, this.direction, this.k);
        out.push({ a, b, paired, summary: summarizeOutcomes(a.label, b.label, paired.rightA, paired.rightB) });
      }
    return out;
  });

  async setFolder(entries: PickedFile[]): Promise<void> {
    this.results = [];
    await this.ret.setFolder(entries);
  }

  /** Keep finished results of the current folder only; the keys of the models still to run. */
  prune(keys: string[]): string[] {
    const sig = this.signature();
    this.results = this.results.filter((r) => r.signature === sig);
    return keys.filter((k) => !this.results.some((r) => r.key === k));
  }

  /** Run the loaded model on the folder and keep its result; false when it failed or was cancelled. */
  async runModel(
    facts: Pick<ModelFacts, 'key' | 'label' | 'family' | 'embeddingDim' | 'downloadBytes'>,
  ): Promise<boolean> {
    const sig = this.signature();
    if (!(await this.ret.start()) || !this.ret.run) return false;
    const run = this.ret.run;
    const imagesPerSec = timingJson(run.timing, run.cache).images_per_sec;
    const { backend, dtype } = run.manifest;
    this.results = [...this.results, { ...facts, run, backend, dtype, imagesPerSec, signature: sig }];
    return true;
  }

  remove(key: string): void {
    this.results = this.results.filter((r) => r.key !== key);
  }

  /** The table's row for a model (also the JSON's): Recall@K both ways and the model's facts. */
  static row(r: RetrievalCompareResult): Record<string, string | number | null> {
    return {
      model: r.label,
      family: r.family,
      backend: r.backend,
      dtype: r.dtype,
      ...(r.run.result ? retrievalMetricsJson(r.run.result) : {}),
      images_per_sec: r.imagesPerSec,
      download_bytes: r.downloadBytes,
      embedding_dim: r.embeddingDim,
    };
  }

  comparisonJson(): Record<string, unknown> | null {
    const rs = this.ordered;
    if (rs.length === 0) return null;
    const pairs: Record<string, unknown>[] = [];
    for (let i = 0; i < rs.length; i++)
      for (let j = i + 1; j < rs.length; j++) {
        const [a, b] = [rs[i]!, rs[j]!];
        const s = summarizeRetrievalPair(a.label, b.label, a.run, b.run);
        const dir = (d: RetrievalDirection) =>
          Object.fromEntries(RECALL_KS.map((k) => [`R@${k}`, recallPairJson(s[d][`R@${k}`])]));
        pairs.push({
          a: a.label,
          b: b.label,
          text_to_image: dir('text_to_image'),
          image_to_text: dir('image_to_text'),
        });
      }
    return {
      task: 'compare',
      compared: 'retrieval',
      dataset: this.ret.dataset?.name ?? null,
      captions_file: this.ret.dataset?.captionSource ?? null,
      models: rs.map((r) => ({ ...RetrievalComparison.row(r), results: retrievalJson(r.run) })),
      comparison: { pairs },
    };
  }

  /** CLIP_benchmark's long CSV with its retrieval metric names (`image_retrieval_recall@5` = text→image R@5). */
  longCsv(): string | null {
    const rs = this.ordered;
    if (rs.length === 0) return null;
    return longCsv(
      rs.map((r) => {
        const metrics: Record<string, number | null> = {};
        const res = r.run.result;
        for (const d of ['text_to_image', 'image_to_text'] as const)
          for (const k of RECALL_KS)
            metrics[`${BENCHMARK_NAME[d]}@${k}`] = res
              ? round((d === 'text_to_image' ? res.textToImage : res.imageToText).recall[k])
              : null;
        metrics.images_per_sec = r.imagesPerSec;
        return {
          model: r.label,
          pretrained: r.dtype,
          dataset: this.ret.dataset?.name ?? 'dataset',
          task: 'zeroshot_retrieval' as const,
          metrics,
        };
      }),
    );
  }
}

/** One direction × K of a pair: queries both models ran, the 2×2 table, McNemar p, recall B − A and its interval. */
function recallPairJson(s: PairSummary): Record<string, unknown> {
  return {
    n: s.n,
    both_right: s.both_right,
    only_a: s.only_a,
    only_b: s.only_b,
    both_wrong: s.both_wrong,
    mcnemar_p: s.mcnemar_p,
    recall_diff: round(s.acc_diff),
    recall_diff_ci95: s.acc_diff_ci95.map((x) => round(x)),
  };
}
