/**
 * A model's tower files and outputs: fetching a tower with its external-data shards, picking the
 * family's embedding output among the graph's, reading it as float32, and choosing the weight variant.
 */
import { halfToFloat32 } from '../core/float16';
import { WorkbenchError, cancelledError } from '../data/errors';
import type { ModelFiles, ProgressFn } from '../data/model-fetch';
import { onnxPath, externalDataPath, type Dtype } from '../data/model-files';
import { hashParts } from '../data/content-hash';
import { free } from '../core/onnx-split';
import {
  EngineSession,
  weightsLocation,
  type Backend,
  type BackendProbe,
  type ExternalData,
  type HostTensor,
} from './ort-engine';

export type DtypeChoice = 'auto' | Dtype;

/** The family's embedding output for a tower, among the graph's outputs. */
export function pickOutput(preferred: readonly string[], names: readonly string[], file: string): string {
  const found = preferred.find((n) => names.includes(n));
  if (!found) {
    throw new WorkbenchError(
      'model-file-corrupt',
      `${file} has no ${preferred.join(' or ')} output (it has: ${names.join(', ')}). ` +
        'Use the tower files with projection, as in the transformers.js layout.',
      file,
    );
  }
  return found;
}

/** A tower's ONNX file and its external-data shards (`.onnx_data`, `_1`, … while they exist). */
export interface TowerFiles {
  path: string;
  bytes: Uint8Array;
  externalData: ExternalData[];
}

export async function fetchTower(
  files: ModelFiles,
  path: string,
  onProgress: ProgressFn,
  signal?: AbortSignal,
): Promise<TowerFiles> {
  const bytes = await files.bytes(path, onProgress, signal);
  const externalData: ExternalData[] = [];
  for (let k = 0; await files.has(externalDataPath(path, k)); k++) {
    const shard = externalDataPath(path, k);
    // The graph names its data file without the folder (`vision_model.onnx_data`).
    externalData.push({ path: shard.split('/').pop()!, data: await files.bytes(shard, onProgress, signal) });
  }
  return { path, bytes, externalData };
}

/** How a tower's session got its file: split as it was read (`pieces`), or read whole (`file`). */
export type TowerRead = 'pieces' | 'file';

/**
 * A session from a tower file (one without external-data shards) split as it is read from the picked folder
 * or the download cache (core/onnx-split.ts): each weight in a buffer of its own, freed once onnxruntime has
 * copied it into its heap (WASM) or uploaded it (WebGPU), and never the whole file. The first text after a
 * 10,000-image B/32 run peaked at 1.6 GB with the text tower's file read whole first (issue 12). Null where
 * it cannot be: a file in neither place (not downloaded yet), a read that stalls or fails, onnxruntime asking
 * for a weight twice (towerSession goes on). `check` sees the file's hash before the session is made, and
 * refuses the file by throwing.
 */
async function splitSession(
  files: ModelFiles,
  path: string,
  backend: Backend,
  probe: BackendProbe,
  check: (hash: string) => void,
  signal?: AbortSignal,
): Promise<{ session: EngineSession; hash: string; size: number } | null> {
  const split = await files.split(path, weightsLocation(path), signal);
  if (!split) return null;
  try {
    check(split.hash);
  } catch (e) {
    split.weights.release();
    free(split.graph);
    throw e;
  }
  const session = await EngineSession.createSplit(split, backend, probe, path);
  return session && { session, hash: split.hash, size: split.size };
}

/** A tower's session, with its file's hash, the bytes of each file read, and how it was read. */
export interface LoadedTower {
  path: string;
  session: EngineSession;
  fileHash: string;
  sizes: Record<string, number>;
  from: TowerRead;
}

/**
 * A tower's session from its file, split as it is read (splitSession) from the picked folder or the download
 * cache; a file not downloaded yet is downloaded into the cache first, its bytes let go, and split from
 * there. So neither the load nor a later read (the text tower at the first text, the vision tower's rebuild
 * after a GPU loss) holds the file whole beside the weights onnxruntime copies into its heap or uploads.
 * Else (external-data shards, a cache that would not take the file, a split onnxruntime refused) read whole.
 * `check` sees the file's hash before the session is made, and refuses it by throwing.
 */
export async function towerSession(
  files: ModelFiles,
  path: string,
  backend: Backend,
  probe: BackendProbe,
  o: { onProgress?: ProgressFn; signal?: AbortSignal | undefined; check?: (hash: string) => void } = {},
): Promise<LoadedTower> {
  const { onProgress = () => {}, signal, check = () => {} } = o;
  let downloaded: Uint8Array<ArrayBuffer> | null = null;
  if (!(await files.has(externalDataPath(path, 0)))) {
    let split = await splitSession(files, path, backend, probe, check, signal);
    if (!split) {
      const got = await files.cacheDownload(path, onProgress, signal);
      if (got === 'cached') split = await splitSession(files, path, backend, probe, check, signal);
      else downloaded = got;
    }
    if (split) {
      const { size } = split;
      const fromCache = files.source.kind !== 'files';
      onProgress({ file: path, loadedBytes: size, totalBytes: size, fromCache, done: true });
      return { path, session: split.session, fileHash: split.hash, sizes: { [path]: size }, from: 'pieces' };
    }
  }
  const f: TowerFiles = downloaded
    ? { path, bytes: downloaded, externalData: [] }
    : await fetchTower(files, path, onProgress, signal);
  try {
    const sizes = { [path]: f.bytes.byteLength };
    for (const e of f.externalData) sizes[`onnx/${e.path}`] = e.data.byteLength;
    if (signal?.aborted) throw cancelledError();
    const fileHash = await hashParts([f.bytes, ...f.externalData.map((e) => e.data)]);
    check(fileHash);
    const session = await EngineSession.create(f.bytes, backend, probe, f.path, f.externalData);
    return { path, session, fileHash, sizes, from: 'file' };
  } finally {
    // Not kept on WebGPU either (B/32: 600 MB): the WASM rebuild after a GPU loss reads the files again.
    releaseTower(f);
  }
}

/**
 * A session from a tower file read again after the load (towerSession), checked against the load's `hash`
 * (`changed`: the error when it is not that file).
 */
export async function openTower(
  files: ModelFiles,
  path: string,
  hash: string,
  backend: Backend,
  probe: BackendProbe,
  changed: () => Error,
): Promise<{ session: EngineSession; from: TowerRead }> {
  const check = (h: string) => {
    if (h !== hash) throw changed();
  };
  const { session, from } = await towerSession(files, path, backend, probe, { check });
  return { session, from };
}

/**
 * Free a tower's bytes (and its shards') now that its session holds the weights. Dropping the references
 * is not enough: the model worker sits idle after a load, nothing there allocates, no GC comes, and a B/32
 * pair's 580 MB stayed resident through a whole run (issue 12). Detaching a buffer that only this worker's
 * JS holds (ModelFiles.bytes makes such buffers) frees its store at once (`ArrayBuffer.prototype.transfer`,
 * ES2024: Chromium 114, Firefox 122, Safari 17.4; without it the GC frees them later).
 */
export function releaseTower(f: TowerFiles): void {
  for (const b of [f.bytes, ...f.externalData.map((e) => e.data)]) free(b);
}

export function toFloat32(t: HostTensor): Float32Array {
  if (t.data instanceof Float32Array) return new Float32Array(t.data); // own copy: transferable later
  if (t.type === 'float16' && t.data instanceof Uint16Array) return halfToFloat32(t.data);
  throw new WorkbenchError('internal', `Unexpected output type ${t.type}.`);
}

/** The weight variant to load: the one asked for, else fp16 on a shader-f16 GPU, else fp32. */
export function chooseDtype(choice: DtypeChoice, available: Dtype[], backend: Backend, probe: BackendProbe): Dtype {
  if (choice !== 'auto') {
    if (!available.includes(choice)) {
      throw new WorkbenchError(
        'model-file-missing',
        `${onnxPath('vision', choice)} / ${onnxPath('text', choice)} are not in this model (it has: ${available.join(', ')}).`,
        onnxPath('vision', choice),
      );
    }
    return choice;
  }
  if (backend === 'webgpu' && probe.shaderF16 && available.includes('fp16')) return 'fp16';
  return available.includes('fp32') ? 'fp32' : available[0]!;
}
