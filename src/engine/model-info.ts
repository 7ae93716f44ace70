/**
 * What a loaded model reports (ModelInfo) and how a load is asked for (LoadOptions): the types the model
 * worker's API shares with the page, apart from the model itself (clip-model.ts).
 */
import type { FamilyId, Scoring, TokenRule } from '../core/model-family';
import type { PreprocessConfig } from '../core/preprocess';
import type { Dtype } from '../data/model-files';
import type { Backend, BackendProbe, OrtBuild } from './ort-engine';
import type { BackendDecision } from './backend-choice';
import type { DtypeChoice } from './tower-files';

export type BackendChoice = 'auto' | Backend;
export type { DtypeChoice };

export interface LoadOptions {
  backend: BackendChoice;
  dtype: DtypeChoice;
  /** Auto's earlier timings, by fingerprint + device (the page keeps them; see backend-choice.ts). */
  remembered?: Record<string, BackendDecision>;
  /** Time the backends again even when a decision is remembered. */
  remeasure?: boolean;
  /** Images per WebGPU batch, instead of Auto's timed size (the page's `?gpuBatch=N`: the bench's comparison). */
  webgpuBatch?: number;
}

/** What the UI shows and results record about a loaded model. */
export interface ModelInfo {
  id: string;
  origin: string;
  backend: Backend;
  dtype: Dtype;
  availableDtypes: Dtype[];
  embeddingDim: number;
  /** The family whose rules were applied, why, and whether the app had to guess (unknown model_type). */
  family: { id: FamilyId; label: string; reason: string; flagged: boolean; rules: string };
  /** How cosines become probabilities, with the scalars and where they came from (before user edits). */
  scoring: Scoring;
  /** The text tokenization actually applied. */
  tokenization: { padTo: TokenRule['padTo']; padId: number; describe: string };
  /** Softmax scale when known (CLIP-style), NaN otherwise; kept for older readers. */
  logitScale: number;
  logitScaleSource: string;
  contextLength: number;
  imageSize: { width: number; height: number };
  /** Preprocessing as read from preprocessor_config.json (recorded in run manifests). */
  preprocess: PreprocessConfig;
  probe: BackendProbe;
  /** The onnxruntime-web build WebGPU sessions run on in this browser (ort-engine.ts `gpuBuild`). */
  gpuBuild: OrtBuild;
  /** How the backend was chosen, with both backends' timings when Auto measured them. */
  backendDecision: BackendDecision;
  /**
   * Images per inference call on each backend (the model worker runs `imageBatch[backend]`). WebGPU: the
   * size asked for (`LoadOptions.webgpuBatch`), else the faster per image of those Auto timed, else 16
   * (backend-choice.ts WEBGPU_BATCHES); WASM: 8.
   */
  imageBatch: Record<Backend, number>;
  /** Files read, with their size in bytes. */
  files: Record<string, number>;
  /**
   * Cache keys of the towers (xxHash128): vision = encoder file + preprocessor_config.json; text =
   * encoder file + tokenizer files + context length. Equal fingerprints give equal embeddings.
   */
  fingerprints: { vision: string; text: string };
}

/** Called when something the user should know happens mid-run (e.g. the GPU was lost). */
export type NoticeFn = (message: string) => void;
