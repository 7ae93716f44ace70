/**
 * Decodes image bytes in a worker with the browser's decoders (createImageBitmap + OffscreenCanvas):
 * EXIF orientation applied, colour-managed decode off, alpha left unpremultiplied. Grayscale, CMYK,
 * 16-bit and palette images all come out as 8-bit RGBA, whose alpha the preprocessing drops as it resizes.
 * The bytes are checked first (`sniffImage`), so a file that cannot be evaluated is refused with its
 * specific reason — empty, truncated, not an image, too large, vector, a format this browser lacks —
 * and a huge image is refused from its header, before any pixel memory is taken.
 */
import { WorkbenchError } from './errors';
import { type Image8 } from '../core/pil-resize';
import { resizeTarget, type PreprocessConfig } from '../core/preprocess';
import { formatName, sniffImage, type ImageSniff } from '../core/image-sniff';
import { nextTask } from '../core/next-task';

export type ResizeMode = 'pil' | 'browser';

/** A decoded image, with a remark worth showing (an animated GIF's first frame only) when there is one. */
export type DecodedImage = Image8 & { note?: string };

const decodeError = (name: string, problem: string) => new WorkbenchError('image-decode', `${name}: ${problem}`, name);

/** The remark on an image evaluated with a caveat: an animated GIF's first frame only. */
function frameNote(sniff: ImageSniff): string | undefined {
  return sniff.frames !== null && sniff.frames > 1
    ? `animated GIF: only the first of its ${sniff.frames} frames was evaluated`
    : undefined;
}

/**
 * Remarks on the images of a run that are evaluated with a caveat (animated GIFs: first frame only),
 * read from the files themselves, so a run whose embeddings come from the cache says so too. Only
 * GIFs (by name or type) are read.
 */
export async function imageNotes(paths: string[], blobs: Blob[]): Promise<{ file: string; reason: string }[]> {
  const out: { file: string; reason: string }[] = [];
  for (let i = 0; i < blobs.length; i++) {
    // 2,000 files' names and types per task (about 1.5 ms on 2 cores), not every file in the one that called.
    if (i % 2000 === 1999) await nextTask();
    if (!/\.gif$/i.test(paths[i]!) && blobs[i]!.type !== 'image/gif') continue;
    try {
      const note = frameNote(sniffImage(new Uint8Array(await blobs[i]!.arrayBuffer())));
      if (note) out.push({ file: paths[i]!, reason: note });
    } catch {
      // unreadable: the run lists it among the failed files
    }
  }
  return out;
}

/** Check the bytes; throws the specific reason when the file cannot be evaluated. */
export async function checkImage(blob: Blob, name: string): Promise<ImageSniff> {
  if (blob.size === 0) throw decodeError(name, 'empty file (0 bytes)');
  const sniff = sniffImage(new Uint8Array(await blob.arrayBuffer()));
  if (sniff.problem) throw decodeError(name, sniff.problem);
  return sniff;
}

async function bitmapOf(
  blob: Blob,
  name: string,
  sniff: ImageSniff,
  resize?: { width: number; height: number },
): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, {
      imageOrientation: 'from-image',
      premultiplyAlpha: 'none',
      colorSpaceConversion: 'none',
      ...(resize ? { resizeWidth: resize.width, resizeHeight: resize.height, resizeQuality: 'high' as const } : {}),
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const f = sniff.format;
    if (f === 'heic' || f === 'avif') {
      throw decodeError(name, `this browser cannot decode ${formatName(f)} (convert it to JPEG or PNG; ${why})`);
    }
    const size = sniff.width !== null ? `${sniff.width}×${sniff.height}, ` : '';
    throw decodeError(
      name,
      `the ${f ? formatName(f) : 'image'} data is damaged: the browser could not decode it (${size}${blob.size} bytes; ${why})`,
    );
  }
}

function pixelsOf(bitmap: ImageBitmap): Image8 {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true, colorSpace: 'srgb' });
  if (!ctx) throw new WorkbenchError('internal', 'OffscreenCanvas 2D is not available in this browser.');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  // RGBA as it is: the resize steps over the alpha (preprocessRgb), where a copy to RGB first took 2.5 ms per
  // 500×375 photo. A Uint8Array view, so the resize's loops see one array type.
  return { data: new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.length), width, height, channels: 4 };
}

/**
 * Decode to RGBA (the 8-bit pixels a canvas gives; `preprocessRgb` takes them as they are). In 'pil' mode the
 * image comes back at its own size (the caller resizes exactly as Pillow); in 'browser' mode the browser resizes
 * while decoding (faster, not bit-exact).
 */
export async function decodeImage(
  blob: Blob,
  name: string,
  cfg: PreprocessConfig,
  mode: ResizeMode,
  /** Awaited once the header is read, before any pixels are decoded (the caller's memory bound). */
  admit?: (sniff: ImageSniff) => Promise<void>,
): Promise<DecodedImage> {
  const sniff = await checkImage(blob, name);
  await admit?.(sniff);
  // createImageBitmap takes an animated GIF's first frame, as Pillow's Image.open does; say so.
  const note = frameNote(sniff);
  const withNote = (im: Image8): DecodedImage => (note ? { ...im, note } : im);
  if (mode === 'pil' || !cfg.doResize) return withNote(pixelsOf(await bitmapOf(blob, name, sniff)));
  // The target depends on the oriented size, so read that first (cheap: no pixels are copied).
  const probe = await bitmapOf(blob, name, sniff);
  const target = resizeTarget(cfg, probe.width, probe.height);
  probe.close();
  return withNote(pixelsOf(await bitmapOf(blob, name, sniff, target)));
}
