/** Types-only contract of the model worker, for the main thread (no runtime import of the worker). */
export type { ClipWorkerApi, ImageItem, ImageEmbeddingResult, EmbedProgress, TextTowerInfo } from './clip.worker';
export type { StreamProgress } from './pixel-stream';
export type { RowsMessage, RowsRef, RunRows } from './row-memo';
export type { ModelInfo, LoadOptions, BackendChoice, DtypeChoice } from '../src/engine/clip-model';
export type { BackendProbe } from '../src/engine/ort-engine';
export type { BackendDecision, BackendTiming } from '../src/engine/backend-choice';
export type { FileProgress } from '../src/data/model-fetch';
export type { AnalysisWorkerApi, ScoreRequest, ScoreResult } from './analysis.worker';
export type { StoreWorkerApi, RowsApi, WriteResult } from './store.worker';
export type { ModelUsage, RunRecord } from '../src/storage/embedding-store';
export type { FrequencyWorkerApi, CountResult, CorpusFormat } from './frequency.worker';
export type { SlicesWorkerApi } from './slices.worker';
