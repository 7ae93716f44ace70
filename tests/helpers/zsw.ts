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

export interface ZswHandle {
  engine: {
    status: string;
    error: UserError | null;
    resizeMode: 'pil' | 'browser';
    info: { backend: string; dtype: string; embeddingDim: number } | null;
    notices: string[];
    load(source: ModelSource, backend: string, dtype: string): Promise<boolean>;
    loseDeviceForTesting(): Promise<boolean>;
    encodeCounts(): Promise<{ images: number; texts: number }>;
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
    indexing: { done: number; total: number; ms: number | null } | null;
    useCache: boolean;
    storageWarning: string | null;
    setTemplateChoice(choice: string): void;
    start(limit?: number): Promise<boolean>;
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
