/**
 * What an image file is, read from its bytes before any decoder sees them: the format from its magic
 * number, the pixel size from its header, whether a JPEG ends where its data says it should, and how
 * many frames a GIF holds. Lets the app say *why* a file cannot be evaluated ("empty file", "truncated
 * JPEG", "not an image: starts with …", "30000×30000 pixels") instead of the browser's one generic
 * "could not be decoded", and refuse a huge image from its header before decoding it exhausts memory.
 * Pure: bytes in, a plain record out.
 */

export type ImageFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'avif' | 'heic' | 'svg' | 'tiff' | 'ico';

export interface ImageSniff {
  format: ImageFormat | null;
  /** Pixel size declared by the header (before EXIF orientation), when it could be read. */
  width: number | null;
  height: number | null;
  /** GIF: number of frames (only the first is evaluated). */
  frames: number | null;
  /** A reason this file cannot be evaluated, in words a person can act on; null when it can be tried. */
  problem: string | null;
}

/** Decoding is refused above this many pixels (RGBA needs 4 bytes each: 100 MP is 400 MB). */
export const MAX_IMAGE_PIXELS = 100_000_000;

const FORMAT_NAMES: Record<ImageFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG',
  gif: 'GIF',
  webp: 'WebP',
  bmp: 'BMP',
  avif: 'AVIF',
  heic: 'HEIC',
  svg: 'SVG',
  tiff: 'TIFF',
  ico: 'ICO',
};

export function formatName(f: ImageFormat): string {
  return FORMAT_NAMES[f];
}

const ascii = (b: Uint8Array, start: number, end: number) =>
  String.fromCharCode(...b.subarray(start, Math.min(end, b.length)));
const u16be = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const u16le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);
const u32be = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
const u24le = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16);

const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'mif2']);
const AVIF_BRANDS = new Set(['avif', 'avis']);

function formatOf(b: Uint8Array): ImageFormat | null {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  if (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (ascii(b, 0, 2) === 'BM' && b.length >= 26) return 'bmp';
  if (ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*') return 'tiff';
  if (b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return 'ico';
  if (ascii(b, 4, 8) === 'ftyp') {
    // The major brand, then the compatible brands, up to the box's end.
    const end = Math.min(u32be(b, 0), b.length);
    const brands = [ascii(b, 8, 12)];
    for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(b, i, i + 4));
    if (brands.some((x) => AVIF_BRANDS.has(x))) return 'avif';
    if (brands.some((x) => HEIC_BRANDS.has(x))) return 'heic';
    return null;
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(0, 1024)).replace(/^\uFEFF/, '');
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(text)) return 'svg';
  return null;
}

/** The first bytes as a person would recognise them: text when they are text, else hex. */
export function describeStart(b: Uint8Array): string {
  const head = b.subarray(0, 20);
  const printable = [...head].filter((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127)).length;
  if (printable >= head.length * 0.8) {
    const s = new TextDecoder('utf-8', { fatal: false }).decode(head).replace(/\s+/g, ' ');
    return `“${s}${b.length > 20 ? '…' : ''}”`;
  }
  return [...head.subarray(0, 8)].map((c) => c.toString(16).padStart(2, '0')).join(' ');
}

/** SOF dimensions and whether the data reaches an EOI marker, walking the JPEG's segments. */
function jpegInfo(b: Uint8Array): { width: number | null; height: number | null; complete: boolean } {
  let width: number | null = null;
  let height: number | null = null;
  let i = 2;
  while (i + 2 <= b.length) {
    if (b[i] !== 0xff) return { width, height, complete: false }; // lost sync: damaged
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker === 0xd9) return { width, height, complete: true };
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (i + 4 > b.length) break;
    const len = u16be(b, i + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof && i + 9 <= b.length) {
      height = u16be(b, i + 5);
      width = u16be(b, i + 7);
    }
    i += 2 + len;
    if (marker === 0xda) {
      // Entropy-coded data: in it 0xFF is always followed by 0x00 (stuffing) or a restart marker,
      // so the next 0xFF with anything else is the next segment (another scan, or EOI).
      while (i + 1 < b.length && !(b[i] === 0xff && b[i + 1] !== 0 && (b[i + 1]! < 0xd0 || b[i + 1]! > 0xd7))) i++;
    }
  }
  return { width, height, complete: false };
}

/** Frames in a GIF, walking its blocks (null when the structure is damaged). */
function gifFrames(b: Uint8Array): number | null {
  let i = 13;
  if (b[10]! & 0x80) i += 3 * (1 << ((b[10]! & 7) + 1));
  let frames = 0;
  const skipSubBlocks = () => {
    while (i < b.length && b[i] !== 0) i += b[i]! + 1;
    i += 1;
  };
  while (i < b.length) {
    const block = b[i];
    if (block === 0x3b) return frames;
    if (block === 0x21) {
      i += 2;
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames += 1;
      const flags = b[i + 9] ?? 0;
      i += 10;
      if (flags & 0x80) i += 3 * (1 << ((flags & 7) + 1));
      i += 1; // LZW minimum code size
      skipSubBlocks();
    } else return frames > 0 ? frames : null;
  }
  return frames > 0 ? frames : null;
}

function sizeOf(f: ImageFormat, b: Uint8Array): { width: number | null; height: number | null } {
  const none = { width: null, height: null };
  switch (f) {
    case 'png':
      return b.length >= 24 && ascii(b, 12, 16) === 'IHDR' ? { width: u32be(b, 16), height: u32be(b, 20) } : none;
    case 'gif':
      return b.length >= 10 ? { width: u16le(b, 6), height: u16le(b, 8) } : none;
    case 'bmp': {
      const w = new DataView(b.buffer, b.byteOffset, b.byteLength);
      return b.length >= 26 ? { width: Math.abs(w.getInt32(18, true)), height: Math.abs(w.getInt32(22, true)) } : none;
    }
    case 'webp': {
      const chunk = ascii(b, 12, 16);
      if (chunk === 'VP8X' && b.length >= 30) return { width: u24le(b, 24) + 1, height: u24le(b, 27) + 1 };
      if (chunk === 'VP8 ' && b.length >= 30) return { width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
      if (chunk === 'VP8L' && b.length >= 25) {
        const bits = b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24);
        return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
      }
      return none;
    }
    default:
      return none;
  }
}

/**
 * Read a file's bytes (all of them: a JPEG is checked for its end marker) and say what it is and
 * whether it can be evaluated. `problem` texts are lower-case fragments meant to follow the file name.
 */
export function sniffImage(b: Uint8Array): ImageSniff {
  const out: ImageSniff = { format: null, width: null, height: null, frames: null, problem: null };
  if (b.length === 0) return { ...out, problem: 'empty file (0 bytes)' };
  const format = formatOf(b);
  out.format = format;
  if (format === null) return { ...out, problem: `not an image: starts with ${describeStart(b)}` };
  if (format === 'svg')
    return { ...out, problem: 'not evaluated: SVG is a vector image (export it as PNG to include it)' };
  if (format === 'tiff') return { ...out, problem: 'this browser cannot decode TIFF (convert it to PNG or JPEG)' };
  const jpeg = format === 'jpeg' ? jpegInfo(b) : null;
  Object.assign(out, jpeg ? { width: jpeg.width, height: jpeg.height } : sizeOf(format, b));
  if (format === 'gif') out.frames = gifFrames(b);
  if (out.width !== null && out.height !== null) {
    if (out.width === 0 || out.height === 0) {
      return { ...out, problem: `its header declares an empty image (${out.width}×${out.height} pixels)` };
    }
    if (out.width * out.height > MAX_IMAGE_PIXELS) {
      const mp = Math.round((out.width * out.height) / 1e6);
      return {
        ...out,
        problem:
          `too large to decode: ${out.width}×${out.height} pixels (${mp} megapixels; the limit is ` +
          `${MAX_IMAGE_PIXELS / 1e6}). Downscale it first.`,
      };
    }
  }
  // Browsers show a cut-off JPEG or PNG with its missing part grey; Pillow refuses it ("image file is
  // truncated"). Refuse it too, so a damaged file never counts as a (wrong) prediction.
  const cut = (what: string) => `truncated ${what}: the file ends (at ${b.length} bytes) before the image data does`;
  if (jpeg && !jpeg.complete) return { ...out, problem: cut('JPEG') };
  if (format === 'png' && !ascii(b, Math.max(0, b.length - 256), b.length).includes('IEND')) {
    return { ...out, problem: cut('PNG') };
  }
  return out;
}
