/**
 * bench:compare's figures for what onnxruntime-web itself offers, apart from the app: q8 against fp32
 * embeddings (`parity`), and its builds against each other on each execution provider (`ep`: the default
 * JSEP bundle the app imports, `onnxruntime-web/webgpu` with the native WebGPU EP as transformers.js 4
 * imports it, and `onnxruntime-web/jspi` where the browser has JSPI).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../tests/helpers/paths';
import type { OrtBundle, PeerTiming } from './bench-peers.worker';

/** Row-wise cosine of two n×dim arrays (as the model gives them, not normalized): min, median, mean. */
export function cosineStats(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dim: number,
): { rows: number; min: number; median: number; mean: number } {
  const cs: number[] = [];
  for (let r = 0; r < a.length / dim; r++) {
    let ab = 0;
    let aa = 0;
    let bb = 0;
    for (let k = r * dim; k < (r + 1) * dim; k++) {
      ab += a[k]! * b[k]!;
      aa += a[k]! * a[k]!;
      bb += b[k]! * b[k]!;
    }
    cs.push(ab / Math.sqrt(aa * bb));
  }
  cs.sort((x, y) => x - y);
  const mid = cs.length >> 1;
  return {
    rows: cs.length,
    min: cs[0]!,
    median: cs.length % 2 ? cs[mid]! : (cs[mid - 1]! + cs[mid]!) / 2,
    mean: cs.reduce((s, c) => s + c, 0) / cs.length,
  };
}

/** The JSPI build, if this onnxruntime-web ships one: its package export and WASM file. */
export function jspiBuild(): { version: string; export: string | null; wasm_bytes: number | null } {
  const dir = path.join(REPO, 'node_modules/onnxruntime-web');
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    version: string;
    exports: Record<string, unknown>;
  };
  const wasm = path.join(dir, 'dist/ort-wasm-simd-threaded.jspi.wasm');
  return {
    version: pkg.version,
    export: './jspi' in pkg.exports ? 'onnxruntime-web/jspi' : null,
    wasm_bytes: fs.existsSync(wasm) ? fs.statSync(wasm).size : null,
  };
}

export type Probe = { jspi: boolean; adapter: string | null; fallbackAdapter: boolean | null };

export interface EpRun {
  bundle: OrtBundle;
  ep: 'wasm' | 'webgpu';
  round: number;
  images: number;
  imagesPerSec: number | null;
  loadMs: number | null;
  peakPssMB: number | null;
  /** The machine's 1-minute load when the run ended (other jobs show here). */
  loadAvg1m: number;
  error?: string;
}

type RunOrtWeb = (args: Record<string, unknown>) => Promise<PeerTiming & { peakPssMB: number }>;

/**
 * Each build on each of `providers`, `rounds` times, alternating (build inside provider inside round), each
 * run in a fresh browser. A build that fails to load or run is recorded with its error, not retried.
 */
export async function epSection(
  run: RunOrtWeb,
  base: { modelUrl: string; preprocessUrl: string; imageUrls: string[]; threads: number; batch: number },
  bundles: OrtBundle[],
  providers: ('webgpu' | 'wasm')[],
  rounds: number,
  log: (line: string) => void,
): Promise<EpRun[]> {
  const out: EpRun[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const ep of providers) {
      // The wasm build has no WebGPU provider.
      for (const bundle of bundles.filter((b) => ep === 'wasm' || b !== 'wasm')) {
        const r: EpRun = {
          bundle,
          ep,
          round,
          images: base.imageUrls.length,
          imagesPerSec: null,
          loadMs: null,
          peakPssMB: null,
          loadAvg1m: 0,
        };
        try {
          const t = await run({ ...base, bundle, ep });
          Object.assign(r, { imagesPerSec: t.imagesPerSec, loadMs: Math.round(t.loadMs), peakPssMB: t.peakPssMB });
        } catch (e) {
          r.error = (e instanceof Error ? e.message : String(e)).split('\n')[0];
        }
        r.loadAvg1m = Number(os.loadavg()[0]!.toFixed(2));
        out.push(r);
        log(
          `ortweb ${bundle.padEnd(7)} on ${ep.padEnd(6)} round ${round}: ` +
            `(machine load ${r.loadAvg1m}) ` +
            (r.error
              ? `failed: ${r.error}`
              : `${r.imagesPerSec!.toFixed(2)} images/s, session ${r.loadMs} ms, PSS ${r.peakPssMB} MB`),
        );
      }
    }
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Median images/s per build and provider, and each build's ratio to the default bundle on the same provider. */
export function epSummary(runs: EpRun[]): {
  medians_images_per_sec: Record<string, number | null>;
  over_default: Record<string, number | null>;
} {
  const med = (b: string, ep: string) =>
    median(runs.filter((r) => r.bundle === b && r.ep === ep && r.imagesPerSec !== null).map((r) => r.imagesPerSec!));
  const medians: Record<string, number | null> = {};
  const ratios: Record<string, number | null> = {};
  for (const b of new Set(runs.map((r) => r.bundle)))
    for (const ep of ['webgpu', 'wasm']) {
      medians[`${b}/${ep}`] = med(b, ep);
      const d = med('default', ep);
      const m = med(b, ep);
      if (b !== 'default') ratios[`${b}/${ep}`] = m !== null && d !== null ? m / d : null;
    }
  return { medians_images_per_sec: medians, over_default: ratios };
}
