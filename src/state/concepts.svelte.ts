/**
 * Concept-wise retrieval of a finished retrieval run: the captions' nouns are tagged in chunks (so the
 * page stays responsive), concepts in fewer than 10 images are dropped, and each concept's Recall@K is
 * read from the run's own ranks; optional pretraining counts join them in 7 log bins. Nothing is re-run.
 */
import {
  captionNouns,
  conceptFrequency,
  conceptRecall,
  extractConcepts,
  MIN_CONCEPT_IMAGES,
  type ConceptRecall,
} from '../core/concepts';
import { parseCountTable } from '../core/frequency';
import type { RetrievalRun } from '../core/retrieval-results';
import type { RetrieveState } from './retrieve.svelte';
import type { UserError } from './engine.svelte';
import { RetrievalSlicesState } from './retrieval-slices.svelte';
import { nextTask } from '../core/next-task';

/** Captions tagged between two yields to the event loop (≈ 1 ms each). */
const CHUNK = 40;

export class ConceptsState {
  recalls = $state.raw<ConceptRecall[] | null>(null);
  /** Distinct nouns found before the 10-image threshold. */
  nounCount = $state(0);
  progress = $state<{ done: number; total: number } | null>(null);
  counts = $state.raw<{ name: string; counts: Record<string, number> } | null>(null);
  error = $state<UserError | null>(null);
  /** The run the concepts were computed for (state, so `current` updates the view). */
  private forRun = $state.raw<RetrievalRun | null>(null);

  /** Recall@K by slice of a per-image metadata file. */
  readonly bySlice: RetrievalSlicesState;

  constructor(private retrieve: RetrieveState) {
    this.bySlice = new RetrievalSlicesState(() => this.retrieve.run);
  }

  readonly frequency = $derived(
    this.recalls && this.counts ? conceptFrequency(this.recalls, this.counts.counts) : null,
  );

  /** Whether the shown concepts belong to the current run. */
  get current(): boolean {
    return this.forRun !== null && this.forRun === this.retrieve.run;
  }

  /** Extract the concepts of the current run's captions and their Recall@K. */
  async compute(): Promise<boolean> {
    const run = this.retrieve.run;
    if (!run?.result || this.progress) return false;
    this.error = null;
    const nouns: string[][] = [];
    this.progress = { done: 0, total: run.captions.length };
    for (let i = 0; i < run.captions.length; i += CHUNK) {
      for (const c of run.captions.slice(i, i + CHUNK)) nouns.push(captionNouns(c.caption));
      this.progress.done = nouns.length;
      await nextTask();
      if (this.retrieve.run !== run) {
        this.progress = null;
        return false;
      }
    }
    this.nounCount = new Set(nouns.flat()).size;
    const concepts = extractConcepts(run.captions, MIN_CONCEPT_IMAGES, nouns);
    this.recalls = conceptRecall(concepts, run.result.textRanks, run.result.imageRanks);
    this.forRun = run;
    this.progress = null;
    return true;
  }

  /** Pretraining counts (`{concept: count}` JSON or `concept,count` CSV/TSV, as the frequency view reads). */
  importCounts(name: string, text: string): boolean {
    try {
      this.counts = { name, counts: parseCountTable(name, text) };
      this.error = null;
      return true;
    } catch (e) {
      this.error = { code: 'bad-input', message: e instanceof Error ? e.message : String(e) };
      return false;
    }
  }

  /** The concepts written out: per concept its images, captions and Recall@K both ways (+ the frequency bins). */
  json(): Record<string, unknown> | null {
    if (!this.recalls) return null;
    const f = this.frequency;
    return {
      min_images: MIN_CONCEPT_IMAGES,
      nouns_found: this.nounCount,
      concepts: this.recalls.map((r) => ({
        concept: r.concept,
        images: r.images,
        captions: r.captions,
        text_to_image: r.t2i,
        image_to_text: r.i2t,
      })),
      by_slice: this.bySlice.table ? { metadata: this.bySlice.table.name, attributes: this.bySlice.groups } : null,
      frequency: f
        ? {
            counts: this.counts!.name,
            metric: 'text_to_image_R@5',
            unmatched: f.unmatched,
            bins: f.bins.map((b) => ({ log10_lo: b.lo, log10_hi: b.hi, n: b.n, mean: b.mean, std: b.std })),
          }
        : null,
    };
  }

  csv(): string {
    const head = 'concept,images,captions,t2i_R@1,t2i_R@5,t2i_R@10,i2t_R@1,i2t_R@5,i2t_R@10';
    const r6 = (x: number | undefined) => Number((x ?? 0).toFixed(6));
    const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const rows = (this.recalls ?? []).map((r) =>
      [
        quote(r.concept),
        r.images,
        r.captions,
        ...(['t2i', 'i2t'] as const).flatMap((d) => [1, 5, 10].map((k) => r6(r[d][`R@${k}`]))),
      ].join(','),
    );
    return [head, ...rows].join('\n') + '\n';
  }
}
