/**
 * Reads a model's files from its source, with per-file byte progress. URL sources go through Cache
 * Storage: a file fetched once is served from the cache afterwards, so a second load works offline.
 * Runs in the worker (Cache Storage and fetch exist there); no DOM.
 */
import { WorkbenchError, cancelledError } from './errors';
import { type ModelSource, EXPECTED_FILES_TEXT } from './model-files';

export const MODEL_CACHE_NAME = 'zsw-model-files-v1';

/** Progress of one file: bytes so far and total (null when the server sends no length). */
export interface FileProgress {
  file: string;
  loadedBytes: number;
  totalBytes: number | null;
  fromCache: boolean;
  done: boolean;
}

export type ProgressFn = (p: FileProgress) => void;

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(MODEL_CACHE_NAME);
  } catch {
    return null; // Cache Storage can be unavailable (private mode, opaque origins); still load.
  }
}

async function readStream(
  res: Response,
  file: string,
  onProgress: ProgressFn,
  signal: AbortSignal | undefined,
): Promise<Uint8Array<ArrayBuffer>> {
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader ? Number(lengthHeader) : null;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(await res.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    if (signal?.aborted) {
      await reader.cancel();
      throw cancelledError();
    }
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    if (loaded - lastReport > 256 * 1024) {
      lastReport = loaded;
      onProgress({ file, loadedBytes: loaded, totalBytes: total, fromCache: false, done: false });
    }
  }
  const out = new Uint8Array(loaded);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Reads files of one model source. */
export class ModelFiles {
  readonly source: ModelSource;
  private cache: Promise<Cache | null> | null = null;

  constructor(source: ModelSource) {
    this.source = source;
  }

  private getCache(): Promise<Cache | null> {
    this.cache ??= openCache();
    return this.cache;
  }

  /** The URL a file would be fetched from, or a `folder:` label for local files. */
  locate(path: string): string {
    return this.source.kind === 'url' ? this.source.baseUrl + path : `${this.source.id}/${path}`;
  }

  /** Whether the file exists, without downloading it (cache, then a HEAD request). */
  async has(path: string): Promise<boolean> {
    if (this.source.kind === 'files') return path in this.source.files;
    const url = this.locate(path);
    const cache = await this.getCache();
    if (cache && (await cache.match(url))) return true;
    try {
      const res = await fetch(url, { method: 'HEAD' });
      return res.ok;
    } catch {
      return false;
    }
  }

  /** The file's bytes, reporting progress; throws WorkbenchError naming the file when it is missing. */
  async bytes(path: string, onProgress: ProgressFn = () => {}, signal?: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
    if (this.source.kind === 'files') {
      const f = this.source.files[path];
      if (!f) {
        throw new WorkbenchError(
          'model-file-missing',
          `${path} is missing from the model folder “${this.source.id}”. Expected files: ${EXPECTED_FILES_TEXT}.`,
          path,
        );
      }
      const buf = new Uint8Array(await f.arrayBuffer());
      onProgress({ file: path, loadedBytes: buf.byteLength, totalBytes: buf.byteLength, fromCache: false, done: true });
      return buf;
    }
    const url = this.locate(path);
    const cache = await this.getCache();
    const hit = cache ? await cache.match(url) : undefined;
    if (hit) {
      const buf = new Uint8Array(await hit.arrayBuffer());
      onProgress({ file: path, loadedBytes: buf.byteLength, totalBytes: buf.byteLength, fromCache: true, done: true });
      return buf;
    }
    let res: Response;
    try {
      res = await fetch(url, signal ? { signal } : {});
    } catch (e) {
      if (signal?.aborted) throw cancelledError();
      throw new WorkbenchError(
        'network',
        `Could not download ${path} from ${url} (${e instanceof Error ? e.message : String(e)}). ` +
          'If you are offline, this file was not downloaded before.',
        path,
      );
    }
    if (res.status === 404) {
      throw new WorkbenchError(
        'model-file-missing',
        `${path} was not found at ${url} (HTTP 404). Expected files: ${EXPECTED_FILES_TEXT}.`,
        path,
      );
    }
    if (!res.ok) {
      throw new WorkbenchError('network', `Downloading ${path} from ${url} failed: HTTP ${res.status}.`, path);
    }
    const buf = await readStream(res, path, onProgress, signal);
    onProgress({ file: path, loadedBytes: buf.byteLength, totalBytes: buf.byteLength, fromCache: false, done: true });
    if (cache) {
      const headers = { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' };
      // A full quota must not fail the load: the file is simply fetched again next time.
      await cache.put(url, new Response(buf, { headers })).catch(() => undefined);
    }
    return buf;
  }

  /** Parsed JSON; a parse failure is reported as a corrupt file. */
  async json(path: string, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const buf = await this.bytes(path, () => {}, signal);
    try {
      const v: unknown = JSON.parse(new TextDecoder().decode(buf));
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      return v as Record<string, unknown>;
    } catch (e) {
      throw new WorkbenchError(
        'model-file-corrupt',
        `${path} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`,
        path,
      );
    }
  }
}
