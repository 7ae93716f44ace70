/**
 * Bicubic resampling that reproduces Pillow's `Image.resize(size, BICUBIC, reducing_gap=None)` bit for bit
 * on 8-bit images — what Hugging Face's CLIPImageProcessor does before center crop.
 *
 * Pillow (src/libImaging/Resample.c) resizes in two separable passes, horizontal then vertical, with
 * fixed-point coefficients (22 fractional bits) and rounds each pass to 8 bits. Browsers resample
 * differently, which is how CLIP tools end up with irreproducible numbers; see
 * https://github.com/python-pillow/Pillow/blob/main/src/libImaging/Resample.c
 */

/** Fractional bits of Pillow's fixed-point coefficients for 8-bit images: 32 - 8 - 2. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
/** Pillow's bicubic filter uses a = -0.5 and has support 2 (in source pixels at scale 1). */
const BICUBIC_A = -0.5;
const BICUBIC_SUPPORT = 2;

/** An interleaved 8-bit image: `data.length === width * height * channels`. */
export interface Image8 {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: number;
}

function bicubic(x: number): number {
  const t = Math.abs(x);
  if (t < 1) return ((BICUBIC_A + 2) * t - (BICUBIC_A + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * BICUBIC_A;
  return 0;
}

/** Per output pixel: first source index, tap count, and integer weights (ksize taps each). */
interface Coefficients {
  start: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  ksize: number;
}

/** Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`. */
export function precomputeCoefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const invScale = 1 / filterScale;
    // Pillow casts with (int), which truncates toward zero.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * invScale);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? (k[x] as number) / sum : (k[x] as number);
      weights[xx * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { start, count, weights, ksize };
}

function clip8(acc: number): number {
  if (acc >= ONE * 256) return 255;
  if (acc <= 0) return 0;
  return Math.floor(acc / ONE);
}

function resizeHorizontal(src: Image8, outWidth: number): Image8 {
  const { width, height, channels } = src;
  const c = precomputeCoefficients(width, outWidth);
  const out = new Uint8Array(outWidth * height * channels);
  const half = ONE >> 1;
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = c.start[xx] as number;
      const n = c.count[xx] as number;
      const kOff = xx * c.ksize;
      for (let ch = 0; ch < channels; ch++) {
        let acc = half;
        for (let x = 0; x < n; x++) {
          acc += (src.data[row + (xmin + x) * channels + ch] as number) * (c.weights[kOff + x] as number);
        }
        out[(y * outWidth + xx) * channels + ch] = clip8(acc);
      }
    }
  }
  return { data: out, width: outWidth, height, channels };
}

function resizeVertical(src: Image8, outHeight: number): Image8 {
  const { width, height, channels } = src;
  const c = precomputeCoefficients(height, outHeight);
  const stride = width * channels;
  const out = new Uint8Array(outHeight * stride);
  const half = ONE >> 1;
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = c.start[yy] as number;
    const n = c.count[yy] as number;
    const kOff = yy * c.ksize;
    for (let i = 0; i < stride; i++) {
      let acc = half;
      for (let y = 0; y < n; y++) {
        acc += (src.data[(ymin + y) * stride + i] as number) * (c.weights[kOff + y] as number);
      }
      out[yy * stride + i] = clip8(acc);
    }
  }
  return { data: out, width, height: outHeight, channels };
}

/**
 * Resize an 8-bit interleaved image to `outWidth × outHeight` exactly as Pillow's BICUBIC does
 * (horizontal pass first, each pass only when its size changes).
 */
export function resizeBicubicPil(src: Image8, outWidth: number, outHeight: number): Image8 {
  let img = src;
  if (outWidth !== img.width) img = resizeHorizontal(img, outWidth);
  if (outHeight !== img.height) img = resizeVertical(img, outHeight);
  return img;
}
