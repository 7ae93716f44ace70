/**
 * A labelled folder (ImageFolder layout, classes `cat` and `dog`) that mixes good images with every
 * kind of file the fault suite must survive, written from a few CIFAR-10 photos and bytes made here
 * (no binary is committed). Returns what each file must turn into, so tests and the bench check it.
 *
 *   npx tsx scripts/make-fault-fixtures.ts <out dir>      # then: npm run bench -- --data <out dir> …
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CIFAR_DEV = path.join(
  path.resolve(process.env.SHARED_DIR ?? path.join(REPO, '../shared')),
  'datasets/cifar10/dev',
);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A PNG with a deterministic pattern. colorType 0 gray, 2 RGB, 6 RGBA; bitDepth 8 or 16.
 * `declared` writes another size into the header than the pixel rows (a huge image from its header).
 */
export function png(
  width: number,
  height: number,
  colorType: 0 | 2 | 6,
  bitDepth: 8 | 16 = 8,
  declared?: { width: number; height: number },
): Buffer {
  const channels = colorType === 0 ? 1 : colorType === 2 ? 3 : 4;
  const bpp = (channels * bitDepth) / 8;
  const rows: Buffer[] = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * bpp);
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = c === 3 ? 128 + ((x * 7) % 128) : (x * 37 + y * 11 + c * 85) % 256;
        if (bitDepth === 8) row[1 + x * bpp + c] = v;
        else row.writeUInt16BE(Math.min(65535, v * 257 + ((x + y) % 200)), 1 + x * bpp + c * 2);
      }
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(declared?.width ?? width, 0);
  ihdr.writeUInt32BE(declared?.height ?? height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An animated GIF: `frames` frames of 8×8, four colours, each frame another solid colour. */
export function animatedGif(frames: number): Buffer {
  const head = Buffer.from('GIF89a', 'latin1');
  const screen = Buffer.from([8, 0, 8, 0, 0xf1, 0, 0]); // global colour table of 4 entries
  const palette = Buffer.from([200, 40, 40, 40, 200, 40, 40, 40, 200, 230, 230, 230]);
  const loop = Buffer.from([0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0', 'latin1'), 3, 1, 0, 0, 0]);
  const parts = [head, screen, palette, loop];
  for (let f = 0; f < frames; f++) {
    // LZW with 2-bit pixels: a clear code before every two pixels keeps every code 3 bits wide.
    const codes: number[] = [];
    for (let p = 0; p < 64; p++) {
      if (p % 2 === 0) codes.push(4);
      codes.push(f % 4);
    }
    codes.push(5);
    const bytes: number[] = [];
    let acc = 0;
    let bits = 0;
    for (const c of codes) {
      acc |= c << bits;
      bits += 3;
      while (bits >= 8) {
        bytes.push(acc & 0xff);
        acc >>= 8;
        bits -= 8;
      }
    }
    if (bits > 0) bytes.push(acc & 0xff);
    parts.push(Buffer.from([0x21, 0xf9, 4, 0, 10, 0, 0, 0])); // 0.1 s per frame
    parts.push(Buffer.from([0x2c, 0, 0, 0, 0, 8, 0, 8, 0, 0, 2, bytes.length, ...bytes, 0]));
  }
  parts.push(Buffer.from([0x3b]));
  return Buffer.concat(parts);
}

/** The start of a HEIC file (its `ftyp` box and a little more): what an iPhone photo begins with. */
export function heicStub(): Buffer {
  const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1')]);
  return Buffer.concat([ftyp, Buffer.from([0, 0, 0, 16]), Buffer.from('meta\0\0\0\0hdlr', 'latin1'), Buffer.alloc(64)]);
}

/** What a file of the fault folder must become. */
export type Expect =
  | { kind: 'image' } // evaluated
  | { kind: 'failed'; reason: RegExp }
  | { kind: 'skipped'; reason: RegExp };

/** A file name containing markup: it must be shown as text, never interpreted. */
export const HTML_NAME = '<img src=x onerror="window.__xss=1">.png';
export const NON_LATIN_NAME = '猫の写真 – Ωmega.jpg';

/**
 * Write the fault folder into `dir` (created). Paths in the returned map are relative to `dir`.
 * `good` CIFAR-10 photos per class are copied besides the generated files.
 */
export function makeFaultFolder(dir: string, good = 3): Map<string, Expect> {
  const out = new Map<string, Expect>();
  const put = (rel: string, bytes: Buffer | string, expect: Expect) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), bytes);
    out.set(rel, expect);
  };
  const image: Expect = { kind: 'image' };
  const failed = (reason: RegExp): Expect => ({ kind: 'failed', reason });
  const skipped = (reason: RegExp): Expect => ({ kind: 'skipped', reason });
  const photos: Record<string, Buffer[]> = {};
  for (const cls of ['cat', 'dog']) {
    const files = fs
      .readdirSync(path.join(CIFAR_DEV, cls))
      .sort()
      .slice(0, good + 2);
    photos[cls] = files.map((f) => fs.readFileSync(path.join(CIFAR_DEV, cls, f)));
    files.slice(0, good).forEach((f, k) => put(`${cls}/${f}`, photos[cls]![k]!, image));
  }
  const jpeg = photos.cat![good]!;

  // Decodable in unusual shapes: all evaluated.
  put('cat/gray.png', png(40, 30, 0), image);
  put('cat/alpha.png', png(30, 40, 6), image);
  put('dog/sixteen-bit.png', png(36, 36, 2, 16), image);
  put('cat/one-pixel.png', png(1, 1, 2), image);
  put('dog/wide-4000x12.png', png(4000, 12, 2), image);
  put('cat/animated.gif', animatedGif(3), image);
  // Made by scripts/fixtures/make-cmyk-jpeg.mjs (libvips writes CMYK JPEGs; nothing here does).
  put('cat/cmyk.jpg', fs.readFileSync(path.join(REPO, 'tests/fixtures/images/cmyk.jpg')), image);
  put('cat/nested/deeper/inside.jpg', photos.cat![good + 1]!, image);
  put(`dog/${HTML_NAME}`, png(20, 20, 2), image);
  put(`dog/${NON_LATIN_NAME}`, photos.dog![good]!, image);

  // Cannot be evaluated, each for its own reason.
  put('cat/empty.jpg', Buffer.alloc(0), failed(/empty file \(0 bytes\)/));
  put('cat/truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), failed(/truncated JPEG/));
  put('dog/text-named.jpg', 'hello, this is a text file\n', failed(/not an image: starts with “hello, this is a/));
  put(
    'dog/huge-30000.png',
    png(16, 4, 2, 8, { width: 30000, height: 30000 }),
    failed(/too large to decode: 30000×30000 pixels \(900 megapixels/),
  );
  put(
    'cat/drawing.svg',
    '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n',
    failed(/not evaluated: SVG is a vector image/),
  );
  put('dog/iphone.heic', heicStub(), failed(/this browser cannot decode HEIC/));

  // Clutter and non-images: skipped and counted.
  const clutter = skipped(/system file/);
  put('.DS_Store', Buffer.from([0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31]), clutter);
  put('cat/Thumbs.db', Buffer.from([0xd0, 0xcf, 0x11, 0xe0]), clutter);
  put('dog/desktop.ini', '[.ShellClassInfo]\n', clutter);
  put('__MACOSX/cat/._0001.jpg', Buffer.from([0, 5, 22, 7]), clutter);
  put('dog/notes.txt', 'shot on a sunny day\n', skipped(/not an image/));
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: tsx scripts/make-fault-fixtures.ts <out dir>');
    process.exit(2);
  }
  const made = makeFaultFolder(path.resolve(dir));
  const count = (k: Expect['kind']) => [...made.values()].filter((e) => e.kind === k).length;
  console.log(`${dir}: ${count('image')} images, ${count('failed')} broken, ${count('skipped')} skipped`);
}
