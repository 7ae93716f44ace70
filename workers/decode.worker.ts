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

const api = {
  /** The port whose other end the model worker listens on, and the flag it raises while its runtime runs. */
  connect(p: MessagePort, g: SharedArrayBuffer | null): void {
    port = p;
    gate = g ? new RuntimeGate(g) : null;
  },

  /**
   * Decode and preprocess `jobs` one after another, posting each result to the model worker.
   * `gated`: start each image only while the model worker's WASM runtime is idle (runtime-gate.ts).
   */
  async decode(jobs: DecodeJob[], cfg: PreprocessConfig, mode: ResizeMode, gated = false): Promise<void> {
    const out = port;
    if (!out) throw new WorkbenchError('internal', 'The decode worker is not connected to the model worker.');
    const { width, height } = outputSize(cfg);
    for (const job of jobs) {
      if (gated) await gate?.whenFree();
      try {
        const pixels = new Float32Array(3 * width * height);
        preprocessRgb(await decodeImage(job.blob, job.name, cfg, mode), cfg, pixels);
        out.postMessage({ run: job.run, seq: job.seq, pixels } satisfies PixelMessage, [pixels.buffer]);
      } catch (e) {
        const f = errorFields(e instanceof Error ? e : new Error(String(e)));
        const error = {
          code: f.code ?? 'image-decode',
          message: f.message.replace(/^\[[a-z-]+\] /, ''),
          file: job.name,
        };
        out.postMessage({ run: job.run, seq: job.seq, error } satisfies PixelMessage);
      }
    }
  },
};

export type DecodeWorkerApi = typeof api;

Comlink.expose(api);
