/**
 * Decodes image bytes in a worker with the browser's decoders (createImageBitmap + OffscreenCanvas):
 * EXIF orientation applied, colour-managed decode off, alpha left unpremultiplied. Grayscale, CMYK,
 * 16-bit and palette images all come out as 8-bit RGBA, which `rgbaToRgb` turns into RGB.
 */
import { WorkbenchError } from './errors';
import { type Image8 } from '../core/pil-resize';
import { rgbaToRgb, resizeTarget, type PreprocessConfig } from '../core/preprocess';

export type ResizeMode = 'pil' | 'browser';

async function bitmapOf(blob: Blob, name: string, resize?: { width: number; height: number }): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, {
      imageOrientation: 'from-image',
      premultiplyAlpha: 'none',
      colorSpaceConversion: 'none',
      ...(resize ? { resizeWidth: resize.width, resizeHeight: resize.height, resizeQuality: 'high' as const } : {}),
    });
  } catch (e) {
    const type = blob.type || 'unknown type';
    throw new WorkbenchError(
      'image-decode',
      `${name} could not be decoded as an image (${type}, ${blob.size} bytes): ${e instanceof Error ? e.message : String(e)}`,
      name,
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
  return rgbaToRgb(rgba, width, height);
}

/**
 * Decode to RGB. In 'pil' mode the image comes back at its own size (the caller resizes exactly as
 * Pillow); in 'browser' mode the browser resizes while decoding (faster, not bit-exact).
 */
export async function decodeImage(blob: Blob, name: string, cfg: PreprocessConfig, mode: ResizeMode): Promise<Image8> {
  if (mode === 'pil' || !cfg.doResize) return pixelsOf(await bitmapOf(blob, name));
  // The target depends on the oriented size, so read that first (cheap: no pixels are copied).
  const probe = await bitmapOf(blob, name);
  const target = resizeTarget(cfg, probe.width, probe.height);
  probe.close();
  return pixelsOf(await bitmapOf(blob, name, target));
}
