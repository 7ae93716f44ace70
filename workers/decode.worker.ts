/**
 * A decode worker of the run pipeline's pool: decodes an image and preprocesses it exactly as the
 * model worker would (EXIF, Pillow-exact resize, crop, normalize), then transfers the pixels straight
 * to the model worker over its own MessagePort — never through the main thread. A file that does not
 * decode is reported the same way, with its error's code and file.
 */
import * as Comlink from 'comlink';
import '../src/data/error-transfer';
import { errorFields } from '../src/data/error-transfer';
import { WorkbenchError } from '../src/data/errors';
import { decodeImage, type ResizeMode } from '../src/data/image-decode';
import { outputSize, preprocessRgb, type PreprocessConfig } from '../src/core/preprocess';
import { RuntimeGate } from '../src/engine/runtime-gate';

/** One image of a run: `seq` numbers it within the run (the order the model worker answers in may differ). */
export interface DecodeJob {
  run: number;
  seq: number;
  name: string;
  blob: Blob;
}

/** What goes over the port to the model worker. */
export type PixelMessage =
  | { run: number; seq: number; pixels: Float32Array }
  | { run: number; seq: number; error: { code: string; message: string; file: string | null } };

let port: MessagePort | null = null;
let gate: RuntimeGate | null = null;

/**
 * Pixel buffers the model worker has packed into a batch and sent back (workers/pixel-stream.ts), filled
 * again instead of a new 602 kB buffer per B/32 image: those were garbage that piled up in the model worker
 * between collections. Kept while decoding, and for a few seconds after, so a run's next call finds them.
 */
const spare: ArrayBuffer[] = [];
const SPARE_MAX = 8;
const SPARE_KEEP_MS = 3000;
let decoding = 0;
let idle: ReturnType<typeof setTimeout> | null = null;

function pixelBuffer(length: number): Float32Array {
  // A buffer of another size is from another model's run: dropped.
  for (let b = spare.pop(); b; b = spare.pop()) if (b.byteLength === length * 4) return new Float32Array(b);
  return new Float32Array(length);
}

/**
 * Images above this many pixels decode one at a time in a worker, though it has two calls in flight
 * (decode-pool.ts): a second 12-megapixel image held beside the first is 48 MB more of RGBA per worker.
 */
const LARGE_PIXELS = 4_000_000;
let largeTurn: Promise<void> = Promise.resolve();

/** Wait for this worker's turn at a large image; resolves to the function that ends the turn. */
function largeImageTurn(): Promise<() => void> {
  let end!: () => void;
  const mine = new Promise<void>((r) => (end = r));
  const before = largeTurn;
  largeTurn = before.then(() => mine);
  return before.then(() => end);
}

/** Decode and preprocess one image, and post its pixels (or why it failed) to the model worker. */
async function decodeOne(
  out: MessagePort,
  job: DecodeJob,
  cfg: PreprocessConfig,
  mode: ResizeMode,
  length: number,
  gated: boolean,
): Promise<void> {
  if (gated) await gate?.whenFree();
  // Set inside the callback, so kept in an object (a `let` would read as never assigned here).
  const turn: { end: (() => void) | null } = { end: null };
  try {
    const rgb = await decodeImage(job.blob, job.name, cfg, mode, async (sniff) => {
      if ((sniff.width ?? 0) * (sniff.height ?? 0) > LARGE_PIXELS) turn.end = await largeImageTurn();
    });
    const pixels = pixelBuffer(length);
    preprocessRgb(rgb, cfg, pixels);
    out.postMessage({ run: job.run, seq: job.seq, pixels } satisfies PixelMessage, [pixels.buffer]);
  } catch (e) {
    const f = errorFields(e instanceof Error ? e : new Error(String(e)));
    const error = {
      code: f.code ?? 'image-decode',
      message: f.message.replace(/^\[[a-z-]+\] /, ''),
      file: job.name,
    };
    out.postMessage({ run: job.run, seq: job.seq, error } satisfies PixelMessage);
  } finally {
    turn.end?.();
  }
}

const api = {
  /** The port whose other end the model worker listens on, and the flag it raises while its runtime runs. */
  connect(p: MessagePort, g: SharedArrayBuffer | null): void {
    port = p;
    gate = g ? new RuntimeGate(g) : null;
    p.onmessage = (e: MessageEvent<ArrayBuffer>) => {
      if ((decoding > 0 || idle !== null) && spare.length < SPARE_MAX) spare.push(e.data);
    };
  },

  /**
   * Decode and preprocess `jobs` one after another, posting each result to the model worker.
   * `gated`: start each image only while the model worker's WASM runtime is idle (runtime-gate.ts).
   */
  async decode(jobs: DecodeJob[], cfg: PreprocessConfig, mode: ResizeMode, gated = false): Promise<void> {
    const out = port;
    if (!out) throw new WorkbenchError('internal', 'The decode worker is not connected to the model worker.');
    const { width, height } = outputSize(cfg);
    decoding++;
    if (idle !== null) clearTimeout(idle);
    idle = null;
    try {
      for (const job of jobs) await decodeOne(out, job, cfg, mode, 3 * width * height, gated);
    } finally {
      if (--decoding === 0) {
        idle = setTimeout(() => {
          spare.length = 0;
          idle = null;
        }, SPARE_KEEP_MS);
      }
    }
  },
};

export type DecodeWorkerApi = typeof api;

Comlink.expose(api);
