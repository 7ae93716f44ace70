/**
 * `npm run bench:compare`'s images and its native peer: the dataset folders the app's folder input picks, the
 * server that hands the same files to the in-browser peers, and (b) onnxruntime-node on the CPU.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { DATASETS, REPO } from '../tests/helpers/paths';
import { outputSize, parsePreprocessConfig, preprocessRgb } from '../src/core/preprocess';
import type { Measure } from './bench-compare-ours';

/** Sorted image files under `dir`, relative paths. */
export function imagesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(jpe?g|png|webp)$/i.test(e.name)) out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/** A folder holding exactly these files (copies), so the app's folder input picks the same images. */
export function subsetFolder(name: string, root: string, files: string[]): string {
  const dir = path.join(REPO, '.cache/bench-compare', name);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(dir, f));
  }
  return dir;
}

export interface Dataset {
  name: string;
  dir: string;
  files: string[];
}

/**
 * `n` CIFAR-10 images for the memory section: `cifarFiles` (dev) first, then train. CIFAR-10 here has 9,000 images;
 * past that, byte variants of them (a tag after the PNG's IEND chunk, which decoders ignore): other content hashes,
 * so each is hashed, decoded and encoded like a new photo.
 */
export function memoryFolder(n: number, cifarFiles: string[]): Dataset {
  const train = imagesUnder(path.join(DATASETS, 'cifar10/train'));
  const files = [...cifarFiles.map((f) => `dev/${f}`), ...train.map((f) => `train/${f}`)].slice(0, n);
  const root = path.join(DATASETS, 'cifar10');
  const dir = subsetFolder('memory', root, files);
  for (let k = 0; files.length < n; k++) {
    const src = files[k]!;
    const f = `variants/${src.replace(/\//g, '_')}`;
    fs.mkdirSync(path.join(dir, 'variants'), { recursive: true });
    fs.writeFileSync(path.join(dir, f), Buffer.concat([fs.readFileSync(path.join(root, src)), Buffer.from(`v${k}`)]));
    files.push(f);
  }
  return { name: `cifar10-${files.length}`, dir, files };
}

/** Serves the dataset copies with the headers a cross-origin-isolated page needs to fetch them. */
export function startImageServer(root: string): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    const p = path.join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!p.startsWith(root) || !fs.existsSync(p) || fs.statSync(p).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': /\.png$/i.test(p) ? 'image/png' : 'image/jpeg',
      'access-control-allow-origin': '*',
      'cross-origin-resource-policy': 'cross-origin',
    });
    fs.createReadStream(p).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${a.port}`, close: () => server.close() });
    }),
  );
}

/** (b) onnxruntime-node: sharp decodes (EXIF applied), our Pillow-exact resize + normalization, batches. */
export async function native(
  d: Dataset,
  { modelDir, threads, batch }: { modelDir: string; threads: number; batch: number },
): Promise<Measure> {
  // Imported here: a machine that runs only the browser peers needs neither native module.
  const ortNode = await import('onnxruntime-node');
  const sharp = (await import('sharp')).default;
  const cfg = parsePreprocessConfig(
    JSON.parse(fs.readFileSync(path.join(modelDir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>,
  );
  const { width, height } = outputSize(cfg);
  const plane = 3 * width * height;
  const tl = Date.now();
  const session = await ortNode.InferenceSession.create(path.join(modelDir, 'onnx/vision_model.onnx'), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const loadMs = Date.now() - tl;
  const input = session.inputNames.includes('pixel_values') ? 'pixel_values' : session.inputNames[0]!;
  const output = session.outputNames.includes('image_embeds') ? 'image_embeds' : session.outputNames[0]!;
  await session.run({ [input]: new ortNode.Tensor('float32', new Float32Array(plane), [1, 3, height, width]) });
  let inferMs = 0;
  const t0 = performance.now();
  for (let s = 0; s < d.files.length; s += batch) {
    const files = d.files.slice(s, s + batch);
    const px = new Float32Array(files.length * plane);
    for (let k = 0; k < files.length; k++) {
      const { data, info } = await sharp(path.join(d.dir, files[k]!))
        .rotate()
        .removeAlpha()
        .toColourspace('srgb')
        .raw()
        .toBuffer({ resolveWithObject: true });
      preprocessRgb({ data, width: info.width, height: info.height, channels: 3 }, cfg, px, k * plane);
    }
    const ti = performance.now();
    const out = await session.run({ [input]: new ortNode.Tensor('float32', px, [files.length, 3, height, width]) }, [
      output,
    ]);
    void out[output]!.data.length;
    inferMs += performance.now() - ti;
  }
  const ms = performance.now() - t0;
  await session.release();
  return {
    peer: 'native',
    dataset: d.name,
    images: d.files.length,
    imagesPerSec: (d.files.length * 1000) / ms,
    ms,
    inferMs,
    loadMs,
    peakRssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}
