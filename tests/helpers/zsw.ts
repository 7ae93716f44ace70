/**
 * The automation surface the app exposes as `window.zsw` (the same state objects the UI uses), typed
 * for the parts that tests and the bench touch. Node-side code cannot import the `.svelte.ts` state
 * modules themselves, so this mirrors their public fields.
 */
import type { ModelSource } from '../../src/data/model-files';

interface UserError {
  code: string;
  message: string;
}

export interface SearchResult {
  ids: number[];
  scores: number[];
  encodeMs: number;
  rankMs: number;
  totalMs: number;
}

export interface ZswHandle {
  engine: {
    status: string;
    error: UserError | null;
    resizeMode: 'pil' | 'browser';
    info: {
      backend: string;
      dtype: string;
      embeddingDim: number;
      probe: { wasmThreads: number };
      imageBatch: Record<'webgpu' | 'wasm', number>;
    } | null;
    notices: string[];
    load(source: ModelSource, backend: string, dtype: string, remeasure?: boolean): Promise<boolean>;
    loseDeviceForTesting(): Promise<boolean>;
    encodeCounts(): Promise<{ images: number; texts: number }>;
    runtimeMs(): Promise<Record<string, number>>;
    loadedFrom(): Promise<Record<'text' | 'vision', 'pieces' | 'file'> | null>;
    visionRebuiltFrom(): Promise<'pieces' | 'file' | null>;
    textTower(): Promise<{ resident: boolean; loadMs: number[]; loadedFrom: ('pieces' | 'file')[] } | null>;
    embedTexts(texts: string[]): Promise<Float32Array>;
    scoring: {
      kind: string;
      scale: number | null;
      bias: number | null;
      scaleSource: string;
      biasSource: string;
    } | null;
    hasProbabilities: boolean;
    setScalars(scale: number | null, bias: number | null): void;
  };
  demo: { predictions: ({ prob: number }[] | null)[]; resetEmbeddings(): void };
  classify: {
    dataset: unknown;
    error: UserError | null;
    running: boolean;
    templateChoice: string;
    templateSet: { error: string | null };
    progress: { phase: string; done: number; total: number } | null;
    failed: { file: string; reason: string }[];
    run: unknown;
    classNamesSource: string;
    indexing: { done: number; sized: number; total: number; ms: number | null } | null;
    useCache: boolean;
    storageWarning: string | null;
    flatFolder: boolean;
    labelsFrom: 'folders' | 'metadata';
    setLabelsFrom(from: 'folders' | 'metadata'): Promise<void>;
    labelMetadata: { table: { name: string }; origin: string; column: string | null } | null;
    labelColumn: string | null;
    useLabelMetadata(name: string, text: string, column?: string | null): Promise<boolean>;
    setTemplateChoice(choice: string): void;
    start(limit?: number): Promise<boolean>;
    cancel(): void;
    resultsJson(): Record<string, unknown> | null;
  };
  frequency: {
    importText(name: string, text: string): boolean;
    error: UserError | null;
    summary(): {
      pearson_r: number;
      p_value: number;
      slope_per_decade: number;
      intercept: number;
      n_concepts: number;
    } | null;
    source: unknown;
  };
  retrieve: {
    dataset: {
      images: unknown[];
      captionSource: string | null;
      match: { captions: unknown[]; missing: { file: string; captions: number }[]; uncaptioned: string[] } | null;
    } | null;
    error: UserError | null;
    running: boolean;
    useCache: boolean;
    indexing: { done: number; sized: number; total: number; ms: number | null } | null;
    failed: { file: string; reason: string }[];
    run: unknown;
    start(): Promise<boolean>;
    importCaptions(file: File): Promise<boolean>;
    searchText(text: string, k?: number): Promise<SearchResult | null>;
    searchError: string | null;
    moreLikeThis(row: number, k?: number): Promise<SearchResult | null>;
    resultsJson(): Record<string, unknown> | null;
    perQueryCsv(): string | null;
  };
  slices: {
    error: UserError | null;
    match: { missing: string[]; unlisted: string[]; rowOf: ArrayLike<number> } | null;
    labelRule: { column: string | null; matched: number; note: string | null };
    /** The statistics of the current settings are being computed in the worker. */
    computing: boolean;
    /** Worker time of the last finished statistics job (ms). */
    computeMs: number;
    importText(name: string, text: string): boolean;
    benchJson(columns: string[]): Promise<Record<string, Record<string, unknown>>>;
    exportJson(): Promise<Record<string, unknown>>;
    summariesFor(
      run: unknown,
    ): Promise<{ attribute: string; gap: number | null; gap_ci95: number[] | null; gap_p_value: number | null }[]>;
  };
  concepts: {
    error: UserError | null;
    compute(): Promise<boolean>;
    importCounts(name: string, text: string): boolean;
    json(): Record<string, unknown> | null;
  };
  compare: {
    models: { key: string; label: string }[];
    results: { key: string; label: string; imagesPerSec: number | null }[];
    running: boolean;
    error: UserError | null;
    progress: { model: string; index: number; count: number; step: string } | null;
    cls: { dataset: unknown; error: UserError | null; setTemplateChoice(choice: string): void };
    frequency: { importText(name: string, text: string): boolean; error: UserError | null };
    task: 'classify' | 'retrieve';
    retrieval: {
      ret: {
        dataset: { captionSource: string | null; match: { captions: unknown[] } | null } | null;
        error: UserError | null;
      };
      results: { key: string; label: string }[];
      direction: 'text_to_image' | 'image_to_text';
      k: 1 | 5 | 10;
    };
    add(
      source: ModelSource,
      backend?: string,
      dtype?: string,
      scalars?: { scale: number | null; bias: number | null },
    ): boolean;
    start(): Promise<boolean>;
    cancel(): void;
    comparisonJson(): Record<string, unknown> | null;
    longCsv(): string | null;
  };
  storage: {
    interrupted: { id: string; dataset: string; totalImages: number; storedImages: number }[];
    models: { fingerprint: string; tower: string; count: number; label: string }[];
    refresh(): Promise<void>;
    store: { countImages(model: string): Promise<number> };
  };
}

declare global {
  interface Window {
    zsw: ZswHandle;
  }
}
