/**
 * Reads a model's files from its source, with per-file byte progress. URL sources go through Cache
 * Storage: a file fetched once is served from the cache afterwards, so a second load works offline.
 * Runs in the worker (Cache Storage and fetch exist there); no DOM.
 */
import { createSHA256 } from 'hash-wasm';
import { WorkbenchError, cancelledError } from './errors';
import { type ModelSource, EXPECTED_FILES_TEXT } from './model-files';
import {
  CutOff,
  LongerThanLength,
  Stalled,
  hashBody,
  ownBytes,
  readBody,
  splitBody,
  streamOf,
  type SplitFile,
} from './body-stream';
import { hashParts } from './content-hash';
import { concatArrays } from '../core/vector';
import { free } from '../core/onnx-split';

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

/** Attempts per file when a download is cut off or the connection drops (the later ones resume). */
const DOWNLOAD_ATTEMPTS = 3;
/** Files of at least this Content-Length download into one buffer of that size (see download). */
const WHOLE_MIN_BYTES = 1 << 20;

/**
 * How long a read of a cached model file may go without a byte before the copy is given up and the file
 * downloaded again. In headless Chromium 156.0.8078.114 a read of a Cache Storage body now and then never
 * settled: the second read of the vision tower in the model worker (the load reads it after Auto has hashed
 * it) hung in 5 of about 33 rounds of the backend-choice test's load sequence (Auto, a remembered load in a
 * reopened browser, re-timing, a forced load), through `response.body` and `response.blob().stream()`
 * alike, with the page's service worker running (none in 8 rounds with it blocked). With this limit in
 * place no read stalled in 16 rounds: the timer, which holds the reader, may be what keeps the read alive
 * (a read held only by its own pending promise can be collected), but that is not settled. A healthy read
 * of a cached file delivers its first MB in milliseconds.
 */
const CACHE_STALL_MS = 10_000;

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const h = await createSHA256();
  h.init();
  h.update(bytes);
  return h.digest('hex');
}

/** Reads files of one model source. */
export class ModelFiles {
  readonly source: ModelSource;
  private cache: Promise<Cache | null> | null = null;
  /** SHA-256 of each file `bytes()` returned, when made with `digest` (for run manifests). */
  private digests: Map<string, string> | null;
  /** CACHE_STALL_MS, or another limit (tests). */
  private readonly stallMs: number;

  /**
   * `digest`: hash each file as `bytes()` returns it (~0.9 s per 350 MB), so `sha256()` never reads a
   * model file again after the load (re-reading a B/32 pair from the cache took 20 s and 1.4 GB).
   */
  constructor(source: ModelSource, opts: { digest?: boolean; stallMs?: number } = {}) {
    this.source = source;
    this.stallMs = opts.stallMs ?? CACHE_STALL_MS;
    this.digests = opts.digest ? new Map() : null;
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
    const hit = cache ? await cache.match(url) : undefined;
    // A file the host said it does not have is remembered too, so a cached model loads without a
    // single request (offline, and for privacy).
    if (hit) return hit.ok;
    try {
      const res = await fetch(url, { method: 'HEAD' });
      if (res.status === 404) await cache?.put(url, new Response(null, { status: 404 })).catch(() => undefined);
      return res.ok;
    } catch {
      return false;
    }
  }

  /**
   * The file's size in bytes without downloading it (the picked file, a cached copy, or a HEAD
   * request's content-length); null when it is missing or the host does not say.
   */
  async size(path: string): Promise<number | null> {
    if (this.source.kind === 'files') return this.source.files[path]?.size ?? null;
    const url = this.locate(path);
    const cache = await this.getCache();
    const hit = cache ? await cache.match(url) : undefined;
    if (hit) return hit.ok ? Number(hit.headers.get('content-length')) || (await hit.arrayBuffer()).byteLength : null;
    try {
      const res = await fetch(url, { method: 'HEAD' });
      const n = Number(res.headers.get('content-length'));
      return res.ok && n > 0 ? n : null;
    } catch {
      return null;
    }
  }

  /** SHA-256 (hex) of a file: remembered from its load (see `digest`), else read and hashed now. */
  async sha256(path: string): Promise<string> {
    return this.digests?.get(path) ?? sha256Hex(await this.bytes(path));
  }

  /**
   * The ONNX file split as it is read (core/onnx-split.ts), one buffer per weight, none for the whole: from the
   * picked folder or the download cache. Null when it is not there to stream (a file not downloaded yet),
   * when the read stalls (a cached copy that stalls is dropped), fails or does not parse: then read it whole
   * (`bytes`), which downloads, retries and names the problem. With `digest`, its SHA-256 is made as it is
   * read, as `bytes` does.
   */
  async split(path: string, location: string, signal?: AbortSignal): Promise<SplitFile | null> {
    const stream = await this.streamOf(path);
    if (!stream) return null;
    const sha256 = this.digests !== null && !this.digests.has(path);
    try {
      const opts = { stallMs: this.stallMs, sha256, signal };
      const split = await splitBody(stream.body, stream.size, path, location, opts);
      if (split?.sha256) this.digests!.set(path, split.sha256);
      return split;
    } catch (e) {
      if (!(e instanceof Stalled)) throw e;
      // A cached copy that stalled is dropped, as `read` does, so the whole read that follows downloads the
      // file at once instead of stalling on it again (not awaited: the stalled read's cache may not answer).
      stream.cache?.delete(this.locate(path)).catch(() => undefined);
      return null;
    }
  }

  /** The file's body to stream, from the picked folder or the download cache (`cache`); null when neither has it. */
  private async streamOf(
    path: string,
  ): Promise<{ body: ReadableStream<Uint8Array>; size: number; cache: Cache | null } | null> {
    if (this.source.kind === 'files') {
      const f = this.source.files[path];
      return f && f.size > 0 ? { body: f.stream(), size: f.size, cache: null } : null;
    }
    const cache = await this.getCache();
    const hit = cache ? await cache.match(this.locate(path)) : undefined;
    const size = Number(hit?.headers.get('content-length'));
    return hit?.ok && hit.body && size > 0 ? { body: hit.body, size, cache } : null;
  }

  /**
   * The file's `hashParts([file])` hash (content-hash.ts): made as it streams in from the picked folder or the
   * download cache, else from the file read whole (downloaded, then cached), whose buffer is freed at once.
   */
  async hash(path: string, onProgress: ProgressFn = () => {}, signal?: AbortSignal): Promise<string> {
    const stream = await this.streamOf(path);
    if (stream) {
      const hash = await hashBody(stream.body, stream.size, this.stallMs, signal).catch((e: unknown) => {
        if (!(e instanceof Stalled)) throw e;
        stream.cache?.delete(this.locate(path)).catch(() => undefined); // as in `split`
        return null;
      });
      if (hash) return hash;
    }
    const buf = await this.bytes(path, onProgress, signal);
    try {
      return await hashParts([buf]);
    } finally {
      free(buf);
    }
  }

  /**
   * Download a file that is not in the download cache into it, so that it can be streamed from there
   * (`split`): 'cached' when the cache took it (the bytes are let go), its bytes when the cache would not
   * take them (a full quota), null when there is nothing to do (a picked folder, no cache, a file cached
   * already).
   */
  async cacheDownload(
    path: string,
    onProgress: ProgressFn,
    signal?: AbortSignal,
  ): Promise<Uint8Array<ArrayBuffer> | 'cached' | null> {
    if (this.source.kind === 'files') return null;
    const cache = await this.getCache();
    const url = this.locate(path);
    if (!cache || (await cache.match(url))) return null;
    const buf = await this.bytes(path, onProgress, signal); // downloads, and puts it in the cache
    if (!(await cache.match(url))?.ok) return buf;
    free(buf);
    return 'cached';
  }

  /** The file's bytes, reporting progress; throws WorkbenchError naming the file when it is missing. */
  async bytes(path: string, onProgress: ProgressFn = () => {}, signal?: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
    const buf = await this.read(path, onProgress, signal);
    if (this.digests && !this.digests.has(path)) this.digests.set(path, await sha256Hex(buf));
    return buf;
  }

  private async read(
    path: string,
    onProgress: ProgressFn,
    signal?: AbortSignal,
    skipCache = false,
  ): Promise<Uint8Array<ArrayBuffer>> {
    if (this.source.kind === 'files') {
      const f = this.source.files[path];
      if (!f) {
        throw new WorkbenchError(
          'model-file-missing',
          `${path} is missing from the model folder “${this.source.id}”. Expected files: ${EXPECTED_FILES_TEXT}.`,
          path,
        );
      }
      const buf = await ownBytes(f.stream(), f.size).catch((e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        throw new WorkbenchError('model-file-corrupt', `${path} changed while it was read (${why}); load again.`, path);
      });
      onProgress({ file: path, loadedBytes: buf.byteLength, totalBytes: buf.byteLength, fromCache: false, done: true });
      return buf;
    }
    const url = this.locate(path);
    const cache = skipCache ? null : await this.getCache();
    const hit = cache ? await cache.match(url) : undefined;
    if (hit?.ok) {
      const size = Number(hit.headers.get('content-length')) || undefined;
      const buf = await ownBytes(hit.body, size, this.stallMs).catch(async (e: unknown) => {
        // A cached copy that stalled (CACHE_STALL_MS), or that is not the size it was stored with: drop it and
        // download the file (the next load stores it again). The stalled read's cache is not waited on.
        const dropped = cache!.delete(url).catch(() => undefined);
        if (!(e instanceof Stalled)) await dropped;
        return null;
      });
      if (!buf) return this.read(path, onProgress, signal, true);
      onProgress({ file: path, loadedBytes: buf.byteLength, totalBytes: buf.byteLength, fromCache: true, done: true });
      return buf;
    }
    const buf = await this.download(path, url, onProgress, signal);
    onProgress({ file: path, loadedBytes: buf.byteLength, totalBytes: buf.byteLength, fromCache: false, done: true });
    if (cache) {
      const headers = { 'content-type': 'application/octet-stream', 'content-length': String(buf.byteLength) };
      // Only a complete file reaches the cache (download() throws otherwise). A full quota must not
      // fail the load: the file is simply fetched again next time.
      await cache.put(url, new Response(streamOf(buf), { headers })).catch(() => undefined);
    }
    return buf;
  }

  /**
   * Download a whole file. A connection that drops, or a body shorter than its Content-Length, is retried
   * up to DOWNLOAD_ATTEMPTS times, resuming with a Range request where the server allows it. A body of
   * known length (WHOLE_MIN_BYTES and up: the weights) is read straight into one buffer of that length;
   * others are joined from the chunks that arrived.
   */
  private async download(
    path: string,
    url: string,
    onProgress: ProgressFn,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array<ArrayBuffer>> {
    let chunks: Uint8Array[] = [];
    let whole: Uint8Array<ArrayBuffer> | null = null;
    let byob = true;
    let loaded = 0;
    let total: number | null = null;
    let lastCut = '';
    for (let attempt = 1; attempt <= DOWNLOAD_ATTEMPTS; attempt++) {
      const headers: Record<string, string> = loaded > 0 ? { range: `bytes=${loaded}-` } : {};
      let res: Response;
      try {
        res = await fetch(url, { headers, ...(signal ? { signal } : {}) });
      } catch (e) {
        if (signal?.aborted) throw cancelledError();
        if (attempt < DOWNLOAD_ATTEMPTS && loaded > 0) continue;
        throw new WorkbenchError(
          'network',
          `Could not download ${path} from ${url} (${e instanceof Error ? e.message : String(e)}). ` +
            'If you are offline, this file was not downloaded before.',
          path,
        );
      }
      if (!res.ok) throw this.httpError(path, url, res.status);
      if (!(res.status === 206 && loaded > 0)) {
        // A full response (the first, or a server that ignores Range): start over.
        chunks = [];
        loaded = 0;
        const len = res.headers.get('content-length');
        total = len ? Number(len) : null;
        whole = byob && total !== null && total >= WHOLE_MIN_BYTES ? new Uint8Array(total) : null;
      }
      if (!res.body) return new Uint8Array(await res.arrayBuffer());
      const report = (n: number) =>
        onProgress({ file: path, loadedBytes: n, totalBytes: total, fromCache: false, done: false });
      try {
        if (whole) {
          if ((await readBody(res.body, whole, loaded, total, report, signal)) !== null) return whole;
          // Not a byte stream: on in chunks, after what an earlier attempt put in `whole`.
          chunks = loaded > 0 ? [whole.slice(0, loaded)] : [];
          whole = null;
        }
        await readBody(res.body, chunks, loaded, total, report, signal);
        return concatArrays(chunks, (n) => new Uint8Array(n));
      } catch (e) {
        if (e instanceof LongerThanLength) {
          // Compressed in transit: fetch it again, joining chunks (not counted as an attempt).
          [byob, loaded, attempt] = [false, 0, attempt - 1];
          continue;
        }
        if (!(e instanceof CutOff)) throw e;
        loaded = e.loaded;
        lastCut = e.message;
      }
    }
    throw new WorkbenchError(
      'network',
      `The download of ${path} from ${url} was cut off ${DOWNLOAD_ATTEMPTS} times (last: ${lastCut}). ` +
        'Nothing partial was kept; check the connection and load again.',
      path,
    );
  }

  /** What an HTTP error means for this file and source, in words a person can act on. */
  private httpError(path: string, url: string, status: number): WorkbenchError {
    const hub = this.source.kind === 'url' && this.source.origin === 'hub';
    const id = this.source.id;
    if (hub && (status === 401 || status === 403)) {
      return new WorkbenchError(
        'network',
        `The Hub refused ${path} of “${id}” (HTTP ${status}): the model is gated or private` +
          `${status === 401 ? ', or no model has this id' : ''}. This app sends no Hub login; ` +
          'check the id, or accept the model’s terms on the Hub, download its files and open them under Folder on disk.',
        path,
      );
    }
    if (hub && status === 404 && path === 'config.json') {
      return new WorkbenchError(
        'model-file-missing',
        `No model “${id}” was found on the Hub (HTTP 404 for config.json at ${url}). Check the id ` +
          '(organisation/name, as in the model page’s address).',
        path,
      );
    }
    if (status === 404) {
      return new WorkbenchError(
        'model-file-missing',
        `${path} was not found at ${url} (HTTP 404). Expected files: ${EXPECTED_FILES_TEXT}.`,
        path,
      );
    }
    return new WorkbenchError('network', `Downloading ${path} from ${url} failed: HTTP ${status}.`, path);
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
