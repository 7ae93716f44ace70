/**
 * Image preprocessing driven by `preprocessor_config.json`, as Hugging Face's image processors do it:
 * CLIPImageProcessor resizes the shortest edge (long side floored) then center-crops; SiglipImageProcessor
 * squashes to `{height, width}` without crop. The resize uses the config's `resample` filter, Pillow-exact;
 * then rescale and (unless `do_normalize` is false, as for MobileCLIP) normalize, to CHW float32.
 */
import { resizePil, PIL_BICUBIC, type Image8 } from './pil-resize';

/** The fields of `preprocessor_config.json` this app reads, with units. */
export interface PreprocessConfig {
  /** Target of the shortest edge after resize, in pixels (or both sides when `resizeTo` is set). */
  shortestEdgePx: number;
  /** Set when the config asks for a fixed `{height, width}` resize instead (SigLIP style). */
  resizeTo: { height: number; width: number } | null;
  doResize: boolean;
  doCenterCrop: boolean;
  crop: { height: number; width: number };
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: [number, number, number];
  std: [number, number, number];
  /** PIL resample code (0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming), all Pillow-exact. */
  resample: number;
}

type Json = Record<string, unknown>;

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function triple(v: unknown, fallback: [number, number, number]): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) {
    return [v[0] as number, v[1] as number, v[2] as number];
  }
  if (typeof v === 'number') return [v, v, v];
  return fallback;
}

function sizeOf(v: unknown, fallback: number): { height: number; width: number } {
  if (typeof v === 'number') return { height: v, width: v };
  if (v && typeof v === 'object') {
    const o = v as Json;
    return { height: num(o.height, fallback), width: num(o.width, fallback) };
  }
  return { height: fallback, width: fallback };
}

/** OpenAI CLIP's normalization constants, used when the config has none. */
const CLIP_MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Parse `preprocessor_config.json`; missing fields take CLIPImageProcessor's defaults. */
export function parsePreprocessConfig(json: Json): PreprocessConfig {
  const size = json.size;
  let shortest = 224;
  let resizeTo: PreprocessConfig['resizeTo'] = null;
  if (typeof size === 'number') shortest = size;
  else if (size && typeof size === 'object') {
    const s = size as Json;
    if (typeof s.shortest_edge === 'number') shortest = s.shortest_edge;
    else if (typeof s.height === 'number' && typeof s.width === 'number') {
      resizeTo = { height: s.height, width: s.width };
      shortest = Math.min(s.height, s.width);
    }
  }
  return {
    shortestEdgePx: shortest,
    resizeTo,
    doResize: json.do_resize !== false,
    doCenterCrop: json.do_center_crop !== false && json.crop_size !== undefined,
    crop: sizeOf(json.crop_size, shortest),
    doRescale: json.do_rescale !== false,
    rescaleFactor: num(json.rescale_factor, 1 / 255),
    doNormalize: json.do_normalize !== false,
    mean: triple(json.image_mean, CLIP_MEAN),
    std: triple(json.image_std, CLIP_STD),
    resample: num(json.resample, PIL_BICUBIC),
  };
}

/** Output height and width of the resize step (Hugging Face floors the long side). */
export function resizeTarget(cfg: PreprocessConfig, width: number, height: number): { width: number; height: number } {
  if (cfg.resizeTo) return { ...cfg.resizeTo };
  const s = cfg.shortestEdgePx;
  if (width <= height) return { width: s, height: Math.floor((s * height) / width) };
  return { width: Math.floor((s * width) / height), height: s };
}

/** Final tensor height and width. */
export function outputSize(cfg: PreprocessConfig): { width: number; height: number } {
  if (cfg.doCenterCrop) return { ...cfg.crop };
  return cfg.resizeTo ? { ...cfg.resizeTo } : { width: cfg.shortestEdgePx, height: cfg.shortestEdgePx };
}

/** Drop alpha (as PIL's `convert("RGB")` does) and return a 3-channel image. */
export function rgbaToRgb(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Image8 {
  const n = width * height;
  const out = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const k = i * 4;
    out[j] = rgba[k] as number;
    out[j + 1] = rgba[k + 1] as number;
    out[j + 2] = rgba[k + 2] as number;
  }
  return { data: out, width, height, channels: 3 };
}

/**
 * Center crop as Hugging Face's `center_crop`: offsets floored, zero padding where the crop is larger.
 */
export function centerCrop(img: Image8, cropW: number, cropH: number): Image8 {
  const top = Math.floor((img.height - cropH) / 2);
  const left = Math.floor((img.width - cropW) / 2);
  const c = img.channels;
  const out = new Uint8Array(cropW * cropH * c);
  for (let y = 0; y < cropH; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= img.height) continue;
    for (let x = 0; x < cropW; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= img.width) continue;
      const s = (sy * img.width + sx) * c;
      const d = (y * cropW + x) * c;
      for (let ch = 0; ch < c; ch++) out[d + ch] = img.data[s + ch] as number;
    }
  }
  return { data: out, width: cropW, height: cropH, channels: c };
}

/**
 * Per channel, the float32 value of each 8-bit level, computed in float32 arithmetic exactly as
 * Hugging Face does with numpy float32 arrays: `(x * float32(rescale) - mean) / std`.
 */
export function levelTable(cfg: PreprocessConfig): Float32Array {
  const f = Math.fround;
  const lut = new Float32Array(3 * 256);
  const scale = f(cfg.doRescale ? cfg.rescaleFactor : 1);
  for (let ch = 0; ch < 3; ch++) {
    const mean = f(cfg.doNormalize ? cfg.mean[ch]! : 0);
    const std = f(cfg.doNormalize ? cfg.std[ch]! : 1);
    for (let v = 0; v < 256; v++) lut[ch * 256 + v] = f(f(f(v * scale) - mean) / std);
  }
  return lut;
}

/** Rescale and normalize an RGB image into `out` (CHW float32, length 3·H·W) at `offset`. */
export function toChwFloat(img: Image8, cfg: PreprocessConfig, out: Float32Array, offset = 0): void {
  const plane = img.width * img.height;
  const lut = levelTable(cfg);
  for (let ch = 0; ch < 3; ch++) {
    const base = offset + ch * plane;
    const l = ch * 256;
    for (let i = 0; i < plane; i++) out[base + i] = lut[l + (img.data[i * 3 + ch] as number)] as number;
  }
}

/**
 * The whole pipeline on decoded pixels: PIL-exact resize (the config's filter), crop, rescale, normalize.
 * `img` is RGB, or RGBA as a canvas gives it: the alpha is dropped as PIL's `convert("RGB")` does, by the
 * resize as it reads the pixels (no RGB copy of the whole image first).
 * Writes CHW float32 into `out` at `offset` (length 3 × output height × output width).
 */
export function preprocessRgb(img: Image8, cfg: PreprocessConfig, out: Float32Array, offset = 0): void {
  if (img.channels !== 3 && img.channels !== 4)
    throw new RangeError(`expected RGB or RGBA, got ${img.channels} channels`);
  let cur = img;
  const o = outputSize(cfg);
  if (cfg.doResize) {
    const t = resizeTarget(cfg, cur.width, cur.height);
    // A crop inside the resized image: resize only the crop's pixels (the same bytes, less work).
    const top = Math.floor((t.height - o.height) / 2);
    const left = Math.floor((t.width - o.width) / 2);
    const inside = cfg.doCenterCrop && top >= 0 && left >= 0;
    const win = inside ? { left, top, width: o.width, height: o.height } : undefined;
    cur = resizePil(cur, t.width, t.height, cfg.resample, win, 3);
  } else if (cur.channels === 4) {
    cur = rgbaToRgb(cur.data, cur.width, cur.height);
  }
  if (cur.width !== o.width || cur.height !== o.height) cur = centerCrop(cur, o.width, o.height);
  toChwFloat(cur, cfg, out, offset);
}
