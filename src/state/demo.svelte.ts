/**
 * Quick demo ("does it see a cat?"): a few images and a few labels, scored by the model family's rule —
 * softmax over `logit_scale × cosine` (CLIP) or a sigmoid per label (SigLIP). Labels are ranked by cosine,
 * which both rules agree with. Image embeddings are kept per image, so editing the labels only re-encodes
 * the text.
 */
import { matmulT } from '../core/vector';
import { labelProbabilities } from '../core/metrics';
import { parseLabels, promptFor } from '../core/prompts';
import { describeError } from '../data/errors';
import { looksLikeImage, type PickedFile } from '../data/folder-intake';
import { loadSamples, type Sample } from '../data/samples';
import type { EngineState, UserError } from './engine.svelte';

export interface DemoImage {
  id: number;
  name: string;
  blob: Blob;
  /** Object URL for the thumbnail; revoked when the image is removed. */
  url: string;
  embedding: Float32Array | null;
  error: string | null;
  credit: Sample | null;
}

export interface Prediction {
  label: string;
  /** NaN when the model's scoring scalars are unknown (SigLIP before they are entered). */
  prob: number;
  cosine: number;
}

export const DEFAULT_LABELS = 'cat, dog, bird, car, airplane, horse, ship, truck, person, food';
export const DEFAULT_TEMPLATE = 'a photo of a {}.';

let nextId = 1;

export class DemoState {
  images = $state<DemoImage[]>([]);
  labelsText = $state(DEFAULT_LABELS);
  template = $state(DEFAULT_TEMPLATE);
  busy = $state(false);
  progress = $state<{ done: number; total: number; startedAt: number } | null>(null);
  error = $state<UserError | null>(null);
  /** Unit text embeddings of the current labels, with the labels they belong to. */
  textEmbeddings = $state.raw<{ labels: string[]; template: string; data: Float32Array } | null>(null);
  /** Names of files that were skipped because they are not images. */
  skipped = $state<string[]>([]);

  readonly labels = $derived(parseLabels(this.labelsText));

  /** Per image: predictions sorted by probability, or null until both embeddings exist. */
  readonly predictions = $derived.by((): (Prediction[] | null)[] => {
    const te = this.textEmbeddings;
    const info = this.engine.info;
    const scoring = this.engine.scoring;
    if (!te || !info || !scoring) return this.images.map(() => null);
    const dim = info.embeddingDim;
    return this.images.map((img) => {
      if (!img.embedding || img.embedding.length !== dim) return null;
      const sims = matmulT(img.embedding, te.data, dim);
      const p = labelProbabilities(sims, scoring);
      return te.labels
        .map((label, k) => ({ label, prob: p[k] as number, cosine: sims[k] as number }))
        .sort((a, b) => b.cosine - a.cosine);
    });
  });

  constructor(private engine: EngineState) {}

  addFiles(files: PickedFile[], credit: (f: PickedFile) => Sample | null = () => null): void {
    const images = files.filter(looksLikeImage);
    this.skipped = files.filter((f) => !looksLikeImage(f)).map((f) => f.path);
    for (const f of images) {
      this.images.push({
        id: nextId++,
        name: f.path,
        blob: f.file,
        url: URL.createObjectURL(f.file),
        embedding: null,
        error: null,
        credit: credit(f),
      });
    }
  }

  remove(id: number): void {
    const i = this.images.findIndex((im) => im.id === id);
    if (i < 0) return;
    URL.revokeObjectURL(this.images[i]!.url);
    this.images.splice(i, 1);
  }

  clear(): void {
    for (const im of this.images) URL.revokeObjectURL(im.url);
    this.images = [];
  }

  /** Fetch the 24 COCO samples (cached after the first time) and add them. */
  async addSamples(): Promise<void> {
    this.busy = true;
    this.error = null;
    const startedAt = performance.now();
    try {
      const loaded = await loadSamples((done, total) => (this.progress = { done, total, startedAt }));
      const files = loaded.map(({ sample, blob }) => ({
        path: sample.path.split('/').pop() ?? sample.path,
        file: new File([blob], sample.path.split('/').pop() ?? 'sample.jpg', { type: blob.type || 'image/jpeg' }),
        sample,
      }));
      this.addFiles(files, (f) => (f as (typeof files)[number]).sample);
    } catch (e) {
      this.error = describeError(e);
    } finally {
      this.busy = false;
      this.progress = null;
    }
  }

  /** Embed what is missing (new images, changed labels) so every image has predictions. */
  async classify(): Promise<void> {
    if (this.engine.status !== 'ready' || this.busy) return;
    this.busy = true;
    this.error = null;
    try {
      const labels = this.labels;
      const template = this.template;
      const te = this.textEmbeddings;
      if (!te || te.template !== template || te.labels.join('\u0000') !== labels.join('\u0000')) {
        const data = await this.engine.embedTexts(labels.map((l) => promptFor(template, l)));
        this.textEmbeddings = { labels, template, data };
      }
      const todo = this.images.filter((im) => !im.embedding && !im.error);
      if (todo.length > 0) {
        const startedAt = performance.now();
        this.progress = { done: 0, total: todo.length, startedAt };
        const res = await this.engine.embedImages(
          todo.map((im) => ({ name: im.name, blob: im.blob })),
          (p) => (this.progress = { ...p, startedAt }),
        );
        todo.forEach((im, k) => {
          const target = this.images.find((x) => x.id === im.id);
          if (!target) return;
          const reason = res.failed.find((f) => f.index === k)?.reason;
          if (reason) target.error = reason;
          else target.embedding = res.embeddings.slice(k * res.dim, (k + 1) * res.dim);
        });
      }
    } catch (e) {
      this.error = describeError(e);
    } finally {
      this.busy = false;
      this.progress = null;
    }
  }

  /** Embeddings belong to a model: drop them when another model is loaded. */
  resetEmbeddings(): void {
    this.textEmbeddings = null;
    for (const im of this.images) im.embedding = null;
  }
}
