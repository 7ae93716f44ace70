/**
 * The text tower of a model on WASM, run in a worker of its own that the model worker closes while
 * images are embedded, and starts again (from Cache Storage or the picked folder) when a text comes.
 *
 * Why: onnxruntime-web's WASM heap never shrinks, so a tower loaded beside the vision tower stays
 * resident for the model's life. For the ViT-B/32-shaped model that is the text tower's 254 MB of
 * weights (and its share of the load's room) through every image run, where it does nothing (issue 12:
 * a 10,000-image run's peak). A worker's heap goes when the worker is terminated. The model's load reads
 * the tower's output size here and closes the worker before the vision tower loads, so the load never
 * holds both heaps either.
 *
 * One WASM thread. With the model worker's two, the closed worker's heap stayed resident until some
 * unrelated garbage collection (a scratch copy of bench:compare's memory section, B/32, 1,000 images:
 * 1,616–1,684 MB held from the load to the run's first batch, against 1,315–1,373 MB freed within a second
 * on one thread). The cost: a B/32 text batch of 64 prompts takes 17–20 s on one thread against
 * 10.6–11.4 s on two (onnxruntime-web in Node, 2 cores); prompts and queries are few beside images, and
 * their rows are cached.
 *
 * Runs on WebGPU keep the text tower in the model worker: their weights live on the GPU, and the WASM
 * fallback after a device loss needs both towers at hand.
 */
import * as Comlink from 'comlink';
import { WorkbenchError, cancelledError } from '../data/errors';
import type { ModelSource } from '../data/model-files';
import type { HostTensor } from './ort-engine';
import type { TowerFiles } from './tower-files';
import type { TextTowerWorkerApi } from '../../workers/text-tower.worker';
import type { ClipTokenizer } from '../core/tokenize';

/** What ClipModel needs of a text tower: the model worker's own session, or this worker. */
export interface TextSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputTypes: Record<string, string>;
  run(feeds: Record<string, HostTensor>, outputs: string[]): Promise<Record<string, HostTensor>>;
  dispose(): Promise<void>;
}

/** The text run at load to read the text tower's embedding size. */
export const PROBE_TEXT = 'a photo of a cat.';

/** A text tower's inputs for a batch of texts, by the graph's own input names. */
export function textFeeds(tokenizer: ClipTokenizer, tower: TextSession, texts: string[]): Record<string, HostTensor> {
  const { ids, seqLen, lengths } = tokenizer.encodeBatch(texts);
  const feeds: Record<string, HostTensor> = {};
  const dims = [texts.length, seqLen];
  const names = tower.inputNames;
  const idName = names.includes('input_ids') ? 'input_ids' : names[0]!;
  const asInt32 = tower.inputTypes[idName] === 'int32';
  feeds[idName] = asInt32
    ? { type: 'int32', data: Int32Array.from(ids, Number), dims }
    : { type: 'int64', data: ids, dims };
  // Only the inputs the graph declares: SigLIP's text tower has no attention_mask, BERT-style towers
  // (Jina CLIP) also take token_type_ids (all 0 for a single sentence).
  if (names.includes('attention_mask')) {
    const mask = new BigInt64Array(ids.length);
    lengths.forEach((n, i) => mask.fill(1n, i * seqLen, i * seqLen + Math.min(n, seqLen)));
    feeds.attention_mask = { type: 'int64', data: mask, dims };
  }
  if (names.includes('token_type_ids'))
    feeds.token_type_ids = { type: 'int64', data: new BigInt64Array(ids.length), dims };
  return feeds;
}

export interface TextWorkerReport {
  starts: number;
  restartMs: number[];
  alive: boolean;
  busyMs: number;
}

interface Live {
  worker: Worker;
  api: Comlink.Remote<TextTowerWorkerApi>;
  ready: Promise<unknown>;
  /** Rejects when the worker is closed, so no call waits on a terminated worker. */
  closed: Promise<never>;
  close: () => void;
}

export class TextTowerWorker implements TextSession {
  private live: Live | null = null;
  private inFlight = 0;
  private parkWhenIdle = false;
  private disposed = false;
  /**
   * Workers started, the milliseconds each start after the first took (spawn to tower loaded: the cost
   * of closing it for image runs), and runtime milliseconds of closed ones. The bench and tests read them.
   */
  readonly stats = { starts: 0, restartMs: [] as number[], closedBusyMs: 0 };

  private constructor(
    private readonly source: ModelSource,
    private readonly path: string,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputTypes: Record<string, string>,
  ) {}

  /** Load the tower in a new worker from `files` (moved there: this side loses them). */
  static async start(source: ModelSource, files: TowerFiles): Promise<TextTowerWorker> {
    const live = spawn();
    const bufs = [files.bytes, ...files.externalData.map((e) => e.data)].map((b) => b.buffer as ArrayBuffer);
    const ready = live.api.load(source, files.path, Comlink.transfer(files, bufs));
    live.ready = ready;
    try {
      const m = await Promise.race([ready, live.closed]);
      const t = new TextTowerWorker(source, files.path, m.inputNames, m.outputNames, m.inputTypes);
      t.live = live;
      t.stats.starts = 1;
      return t;
    } catch (e) {
      live.close();
      throw e;
    }
  }

  /** The tower's embedding size, from one probe text. */
  async embeddingSize(tokenizer: ClipTokenizer, output: string): Promise<number> {
    const dims = (await this.run(textFeeds(tokenizer, this, [PROBE_TEXT]), [output]))[output]!.dims;
    return dims[dims.length - 1]!;
  }

  /** Whether a worker (and its heap) is there now. */
  get alive(): boolean {
    return this.live !== null;
  }

  async run(feeds: Record<string, HostTensor>, outputs: string[]): Promise<Record<string, HostTensor>> {
    if (this.disposed) throw cancelledError();
    this.inFlight++;
    try {
      const live = this.open();
      await Promise.race([live.ready, live.closed]);
      return await Promise.race([live.api.run(feeds, outputs), live.closed]);
    } finally {
      if (--this.inFlight === 0 && this.parkWhenIdle) this.park();
    }
  }

  /** Close the worker (now, or after the text runs in flight): an image run is starting. */
  park(): void {
    if (this.inFlight > 0) {
      this.parkWhenIdle = true;
      return;
    }
    this.parkWhenIdle = false;
    const live = this.live;
    if (!live) return;
    this.live = null;
    void live.api
      .busyMs()
      .then((ms) => (this.stats.closedBusyMs += ms))
      .catch(() => undefined)
      .finally(live.close);
  }

  /** Starts so far, each restart's milliseconds, whether a worker is up now, and its runtime milliseconds. */
  async report(): Promise<TextWorkerReport> {
    const { starts, restartMs } = this.stats;
    return { starts, restartMs: [...restartMs], alive: this.alive, busyMs: await this.busyMs() };
  }

  /** Runtime milliseconds of every worker this tower has had. */
  async busyMs(): Promise<number> {
    const now = this.live ? await Promise.race([this.live.api.busyMs(), this.live.closed]).catch(() => 0) : 0;
    return this.stats.closedBusyMs + now;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.live?.close();
    this.live = null;
  }

  private open(): Live {
    if (this.live) return this.live;
    const live = spawn();
    const t0 = performance.now();
    live.ready = live.api.load(this.source, this.path);
    live.ready.then(
      () => this.stats.restartMs.push(Math.round(performance.now() - t0)),
      () => undefined,
    );
    live.ready.catch(() => {
      // A failed start leaves no worker: the next text tries again.
      if (this.live === live) this.live = null;
      live.close();
    });
    this.live = live;
    this.stats.starts++;
    return live;
  }
}

function spawn(): Live {
  const worker = new Worker(new URL('../../workers/text-tower.worker.ts', import.meta.url), { type: 'module' });
  let reject: (e: unknown) => void = () => undefined;
  const closed = new Promise<never>((_, r) => (reject = r));
  closed.catch(() => undefined);
  // A worker that fails (its script, or out of memory) answers no call: reject them all.
  worker.addEventListener('error', (ev) => {
    reject(new WorkbenchError('internal', `The text tower's worker stopped: ${ev.message || 'no reason given'}.`));
  });
  const api = Comlink.wrap<TextTowerWorkerApi>(worker);
  return {
    worker,
    api,
    ready: Promise.resolve(),
    closed,
    close: () => {
      reject(cancelledError());
      worker.terminate();
    },
  };
}
