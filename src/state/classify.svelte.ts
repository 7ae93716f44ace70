/**
 * Zero-shot classification of an ImageFolder: intake, class names, templates, the run (texts, then
 * images in chunks, then scoring in the analysis worker) and its results. The bench drives exactly
 * this object through the page, so the UI and the bench share one implementation.
 */
import * as Comlink from 'comlink';
import { classNamesFrom, readImageFolder, type ImageFolderLayout, type Skipped } from '../core/image-folder';
import {
  isPresetId,
  parseTemplates,
  presetSet,
  promptGrid,
  TEMPLATE_PRESETS,
  type TemplateSet,
} from '../core/templates';
import { resultsJson, predictionsCsv, type ClassifyRun } from '../core/results';
import { describeError, WorkbenchError } from '../data/errors';
import type { PickedFile } from '../data/folder-intake';
import type { AnalysisWorkerApi } from '../../workers/clip-api';
import type { EngineState, UserError } from './engine.svelte';

/**
 * Images per call into the model worker. Posting a File costs the main thread about half a
 * millisecond (Chromium registers a blob reference per file), so chunks stay small enough that no
 * single post becomes a long task, and progress and cancel stay responsive.
 */
const CHUNK = 32;
/** Work bound (n·C·T·dim multiply-adds) for the per-template table before it samples images. */
const TEMPLATE_BUDGET = 3e9;

export type RunPhase = 'idle' | 'texts' | 'images' | 'scoring' | 'done';

export interface Progress {
  phase: RunPhase;
  label: string;
  unit: string;
  done: number;
  total: number;
  startedAt: number;
}

export interface Dataset {
  name: string;
  entries: PickedFile[];
  layout: ImageFolderLayout;
}

export type TemplateChoice = keyof typeof TEMPLATE_PRESETS | 'custom';

declare const __APP_VERSION__: string;

async function readText(f: PickedFile): Promise<string> {
  return f.file.text();
}

export class ClassifyState {
  dataset = $state.raw<Dataset | null>(null);
  /** Prompt names per class folder (editable). */
  classNames = $state<string[]>([]);
  classNamesSource = $state('folder names');
  /** Folders that the class-name file did not name. */
  unmatched = $state.raw<string[]>([]);
  templateChoice = $state<TemplateChoice>('openai80');
  customTemplatesText = $state('');
  customTemplatesName = $state('custom');
  progress = $state<Progress | null>(null);
  running = $state(false);
  error = $state<UserError | null>(null);
  /** Problems with the folder's own files (bad classes.json…); shown, never fatal. */
  warnings = $state<string[]>([]);
  /** Images that failed during the current or last run, with reasons. */
  failed = $state.raw<Skipped[]>([]);
  run = $state.raw<ClassifyRun | null>(null);

  readonly templateSet = $derived.by((): { set: TemplateSet | null; error: string | null } => {
    if (this.templateChoice !== 'custom') return { set: presetSet(this.templateChoice), error: null };
    try {
      return {
        set: {
          name: this.customTemplatesName,
          templates: parseTemplates(this.customTemplatesText, this.customTemplatesName),
        },
        error: null,
      };
    } catch (e) {
      return { set: null, error: e instanceof Error ? e.message : String(e) };
    }
  });

  /** Embeddings of this model load, reused by re-runs with other classes or templates. */
  private memo = { generation: -1, images: new WeakMap<Blob, Float32Array>(), texts: new Map<string, Float32Array>() };
  private analysis: Comlink.Remote<AnalysisWorkerApi> | null = null;

  constructor(private engine: EngineState) {}

  private analysisApi(): Comlink.Remote<AnalysisWorkerApi> {
    if (!this.analysis) {
      // Vite bundles the worker from this exact `new Worker(new URL(…, import.meta.url))` form.
      const worker = new Worker(new URL('../../workers/analysis.worker.ts', import.meta.url), { type: 'module' });
      this.analysis = Comlink.wrap<AnalysisWorkerApi>(worker);
    }
    return this.analysis;
  }

  /** Take a picked or dropped folder: find classes, images and the optional name/template files. */
  async setFolder(entries: PickedFile[]): Promise<void> {
    const layout = readImageFolder(entries.map((e) => ({ path: e.path, type: e.file.type })));
    this.warnings = [];
    this.run = null;
    this.failed = [];
    this.error = null;
    if (layout.classes.length < 2) {
      this.dataset = null;
      this.error = {
        code: 'bad-input',
        message:
          layout.classes.length === 0
            ? 'No images in class folders were found. Pick a folder with one subfolder per class (the ImageFolder layout).'
            : `Only one class folder (“${layout.classes[0]}”) was found; pick the folder that holds the class folders.`,
      };
      return;
    }
    const name = layout.root.split('/').pop() || 'dropped folder';
    this.dataset = { name, entries, layout };
    await this.applyClassNameFile();
    if (layout.templatesTxt !== null) {
      const f = entries[layout.templatesTxt]!;
      this.customTemplatesText = await readText(f);
      this.customTemplatesName = 'templates.txt';
      this.templateChoice = 'custom';
      if (this.templateSet.error) this.warnings.push(this.templateSet.error);
    }
  }

  private async applyClassNameFile(): Promise<void> {
    const d = this.dataset;
    if (!d) return;
    const idx = d.layout.classesJson ?? d.layout.classnamesTxt;
    const file = idx !== null ? d.entries[idx]! : null;
    const fileName = file ? (file.path.split('/').pop() ?? file.path) : '';
    try {
      const r = classNamesFrom(d.layout.classes, file ? { name: fileName, text: await readText(file) } : null);
      this.classNames = r.names;
      this.unmatched = r.unmatched;
      this.classNamesSource = file ? fileName : 'folder names';
    } catch (e) {
      this.classNames = classNamesFrom(d.layout.classes, null).names;
      this.unmatched = [];
      this.classNamesSource = 'folder names';
      this.warnings.push(`${e instanceof Error ? e.message : String(e)} Using the folder names instead.`);
    }
  }

  /** Replace the class names with those of a classes.json / classnames.txt the user picks. */
  async importClassNames(file: File): Promise<void> {
    const d = this.dataset;
    if (!d) return;
    try {
      const r = classNamesFrom(d.layout.classes, { name: file.name, text: await file.text() });
      this.classNames = r.names;
      this.unmatched = r.unmatched;
      this.classNamesSource = file.name;
    } catch (e) {
      this.error = describeError(e);
    }
  }

  async importTemplates(file: File): Promise<void> {
    this.customTemplatesText = await file.text();
    this.customTemplatesName = file.name;
    this.templateChoice = 'custom';
  }

  setTemplateChoice(choice: string): void {
    if (choice === 'custom' || isPresetId(choice)) this.templateChoice = choice;
  }

  cancel(): void {
    this.engine.cancel();
  }

  private memoFor(generation: number) {
    if (this.memo.generation !== generation) {
      this.memo = { generation, images: new WeakMap(), texts: new Map() };
    }
    return this.memo;
  }

  /** Run the evaluation. Embeddings already computed with this model load are reused. */
  async start(limit = Infinity): Promise<boolean> {
    const d = this.dataset;
    const info = this.engine.info;
    const set = this.templateSet.set;
    if (!d || !info || this.engine.status !== 'ready' || this.running) return false;
    if (!set) {
      this.error = { code: 'bad-input', message: this.templateSet.error ?? 'No templates.' };
      return false;
    }
    this.running = true;
    this.error = null;
    this.failed = [];
    const memo = this.memoFor(this.engine.generation);
    const classes = d.layout.classes;
    const classNames = [...this.classNames];
    const images = Number.isFinite(limit) ? d.layout.images.slice(0, limit) : d.layout.images;
    const dim = info.embeddingDim;
    try {
      // 1. Texts: every class × template prompt, only those not embedded yet.
      const t0 = performance.now();
      const prompts = promptGrid(classNames, set.templates);
      const todoTexts = [...new Set(prompts.filter((p) => !memo.texts.has(p)))];
      if (todoTexts.length > 0) {
        this.progress = {
          phase: 'texts',
          label: 'Encoding prompts',
          unit: 'prompts',
          done: 0,
          total: todoTexts.length,
          startedAt: t0,
        };
        const emb = await this.engine.embedTexts(todoTexts, (p) => this.progress && (this.progress.done = p.done));
        todoTexts.forEach((p, i) => memo.texts.set(p, emb.slice(i * dim, (i + 1) * dim)));
      }
      const promptEmb = new Float32Array(prompts.length * dim);
      prompts.forEach((p, i) => promptEmb.set(memo.texts.get(p)!, i * dim));
      const embedTextsMs = performance.now() - t0;

      // 2. Images, in chunks; failures are collected and never stop the run.
      const t1 = performance.now();
      const todo = images.map((im, i) => ({ im, i })).filter(({ im }) => !memo.images.has(d.entries[im.entry]!.file));
      const failed: Skipped[] = [];
      this.progress = {
        phase: 'images',
        label: 'Encoding images',
        unit: 'images',
        done: images.length - todo.length,
        total: images.length,
        startedAt: t1,
      };
      for (let s = 0; s < todo.length; s += CHUNK) {
        const chunk = todo.slice(s, s + CHUNK);
        const res = await this.engine.embedImages(
          chunk.map(({ im }) => ({ name: im.path, blob: d.entries[im.entry]!.file })),
        );
        const bad = new Map(res.failed.map((f) => [f.index, f.reason]));
        chunk.forEach(({ im }, k) => {
          const reason = bad.get(k);
          const blob = d.entries[im.entry]!.file;
          if (reason !== undefined) failed.push({ file: im.path, reason });
          else memo.images.set(blob, res.embeddings.slice(k * dim, (k + 1) * dim));
        });
        this.failed = [...failed];
        if (this.progress) this.progress.done += chunk.length;
      }
      const embedImagesMs = performance.now() - t1;

      // 3. Scoring and metrics in the analysis worker.
      this.progress = {
        phase: 'scoring',
        label: 'Scoring',
        unit: 'steps',
        done: 0,
        total: 1,
        startedAt: performance.now(),
      };
      const t2 = performance.now();
      const scored = images.filter((im) => memo.images.has(d.entries[im.entry]!.file));
      const imageEmb = new Float32Array(scored.length * dim);
      scored.forEach((im, i) => imageEmb.set(memo.images.get(d.entries[im.entry]!.file)!, i * dim));
      const labels = Int32Array.from(scored.map((im) => im.label));
      if (scored.length === 0)
        throw new WorkbenchError('bad-input', 'None of the images could be read, so there is nothing to score.');
      const result = await this.analysisApi().score(
        Comlink.transfer(
          {
            images: imageEmb,
            labels,
            prompts: promptEmb,
            numClasses: classes.length,
            numTemplates: set.templates.length,
            dim,
            logitScale: info.logitScale,
            templateBudget: TEMPLATE_BUDGET,
          },
          [imageEmb.buffer, promptEmb.buffer],
        ),
      );
      const scoreMs = performance.now() - t2;
      const hashes = await this.engine.fileHashes();
      this.run = {
        manifest: {
          app_version: __APP_VERSION__,
          date: new Date().toISOString(),
          model: {
            id: info.id,
            origin: info.origin,
            files: hashes,
            logit_scale: info.logitScale,
            logit_scale_source: info.logitScaleSource,
            embedding_dim: dim,
          },
          backend: info.backend,
          dtype: info.dtype,
          preprocessing: {
            resize: this.engine.resizeMode === 'pil' ? 'pil-bicubic-exact' : 'browser',
            ...info.preprocess,
          },
          templates: { name: set.name, count: set.templates.length, list: set.templates },
        },
        classes,
        classNames,
        totalImages: images.length,
        failed,
        skipped: d.layout.skipped,
        files: scored.map((im) => im.path),
        labels,
        metrics: result.metrics,
        predictions: result.predictions,
        perTemplate: result.perTemplate,
        perTemplateImages: result.perTemplateImages,
        timing: {
          model_load_ms: Math.round(this.engine.loadMs),
          embed_images_ms: Math.round(embedImagesMs),
          embed_texts_ms: Math.round(embedTextsMs),
          score_ms: Math.round(scoreMs),
        },
      };
      this.progress = null;
      return true;
    } catch (e) {
      this.error = describeError(e);
      this.progress = null;
      return false;
    } finally {
      this.running = false;
    }
  }

  resultsJson(): Record<string, unknown> | null {
    return this.run ? resultsJson(this.run) : null;
  }

  predictionsCsv(): string | null {
    return this.run ? predictionsCsv(this.run) : null;
  }
}
