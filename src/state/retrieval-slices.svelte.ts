/**
 * Retrieval Recall@K by slice: a per-image metadata file picked beside a retrieval run (the same
 * intake and matching as the Slices view), its attributes (numeric ones at quartiles), and per group
 * the run's own ranks read back — nothing is re-run.
 */
import { binnedValues, recallBySlice, type RecallSlice } from '../core/slices';
import { quantileEdges } from '../core/stats';
import type { RetrievalRun } from '../core/retrieval-results';
import {
  categoryValues,
  describeColumns,
  matchMetadata,
  numericValues,
  parseMetadataFile,
  type MetadataMatch,
  type MetadataTable,
} from '../data/metadata';
import { describeError } from '../data/errors';
import type { UserError } from './engine.svelte';
import { DEFAULT_BINS } from './slices.svelte';

export class RetrievalSlicesState {
  table = $state.raw<MetadataTable | null>(null);
  error = $state<UserError | null>(null);

  constructor(private getRun: () => RetrievalRun | null) {}

  /** The evaluated images' paths, in the order the ranks use. */
  private get paths(): string[] {
    const run = this.getRun();
    return run ? run.evalImages.map((g) => run.gallery[g]!) : [];
  }

  readonly match = $derived.by((): MetadataMatch | null => (this.table ? matchMetadata(this.table, this.paths) : null));
  readonly attributes = $derived(this.table ? describeColumns(this.table).columns : []);

  /** Recall@K per group of every attribute. */
  readonly groups = $derived.by((): { attribute: string; groups: RecallSlice[] }[] => {
    const run = this.getRun();
    const t = this.table;
    const m = this.match;
    if (!run?.result || !t || !m) return [];
    const captionImage = run.captions.map((c) => c.image);
    return this.attributes.map((c) => {
      const g =
        c.kind === 'number'
          ? binnedValues(
              numericValues(t, m, c.name),
              quantileEdges(Array.from(numericValues(t, m, c.name)), DEFAULT_BINS),
            )
          : { values: categoryValues(t, m, c.name), order: undefined };
      return {
        attribute: c.name,
        groups: recallBySlice(
          g.values,
          captionImage,
          run.result!.textRanks,
          run.result!.imageRanks,
          [1, 5, 10],
          g.order,
        ),
      };
    });
  });

  async importFile(file: File): Promise<boolean> {
    return this.importText(file.name, await file.text());
  }

  importText(name: string, text: string): boolean {
    try {
      this.table = parseMetadataFile(name, text);
      this.error = null;
      return true;
    } catch (e) {
      this.error = describeError(e);
      return false;
    }
  }
}
