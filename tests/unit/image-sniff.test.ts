/**
 * File checks before decoding (src/core/image-sniff.ts) and clutter at intake (src/core/image-folder.ts),
 * on the fault folder's own files: each broken file gets its specific reason, each good one none.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { MAX_IMAGE_PIXELS, sniffImage } from '../../src/core/image-sniff';
import { CLUTTER_REASON, isClutter, readImageFolder } from '../../src/core/image-folder';
import { animatedGif, heicStub, makeFaultFolder, png } from '../../scripts/make-fault-fixtures';
import { imageNotes } from '../../src/data/image-decode';
import { DATASETS } from '../helpers/paths';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zsw-faults-unit-'));
const expected = makeFaultFolder(dir);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('sniffImage', () => {
  test('every file of the fault folder: a specific problem exactly for the broken ones', () => {
    for (const [rel, want] of expected) {
      if (want.kind === 'skipped') continue;
      const got = sniffImage(new Uint8Array(fs.readFileSync(path.join(dir, rel))));
      if (want.kind === 'failed' && !/HEIC/.test(want.reason.source)) expect(got.problem, rel).toMatch(want.reason);
      else expect(got.problem, rel).toBeNull();
    }
  });

  test('header sizes, frames and formats', () => {
    expect(sniffImage(png(4000, 12, 2))).toMatchObject({ format: 'png', width: 4000, height: 12, problem: null });
    expect(sniffImage(animatedGif(3))).toMatchObject({ format: 'gif', width: 8, height: 8, frames: 3 });
    expect(sniffImage(heicStub())).toMatchObject({ format: 'heic', problem: null });
    const jpg = fs.readFileSync(path.join(DATASETS, 'coco-mini-captions/images/000000000139.jpg'));
    expect(sniffImage(jpg)).toMatchObject({ format: 'jpeg', width: 640, height: 426, problem: null });
    // A JPEG whose end marker is gone (cut a few bytes short) is truncated, wherever the cut falls.
    expect(sniffImage(jpg.subarray(0, jpg.length - 2)).problem).toMatch(/^truncated JPEG: the file ends \(at \d+/);
    expect(sniffImage(jpg.subarray(0, 300)).problem).toMatch(/^truncated JPEG/);
  });

  test('a huge image is refused from its header alone, naming its size', () => {
    const side = Math.ceil(Math.sqrt(MAX_IMAGE_PIXELS)) + 1;
    const r = sniffImage(png(2, 2, 2, 8, { width: side, height: side }));
    expect(r.problem).toMatch(new RegExp(`too large to decode: ${side}×${side} pixels`));
    expect(sniffImage(png(2, 2, 2, 8, { width: 8000, height: 6000 })).problem).toBeNull(); // 48 MP photo: fine
  });

  test('binary junk is shown as hex, text as text', () => {
    expect(sniffImage(new Uint8Array([0, 1, 2, 3, 250, 251, 252, 253, 9])).problem).toBe(
      'not an image: starts with 00 01 02 03 fa fb fc fd',
    );
    expect(sniffImage(new TextEncoder().encode('<!doctype html><p>hi')).problem).toMatch(
      /^not an image: starts with “<!doctype html><p/,
    );
  });
});

describe('clutter at intake', () => {
  test('system files are skipped and counted, never classes or images', () => {
    const entries = [...expected.keys()].map((p) => ({ path: `faults/${p}` }));
    const layout = readImageFolder(entries);
    expect(layout.classes).toEqual(['cat', 'dog']);
    const skipped = new Map(layout.skipped.map((s) => [s.file, s.reason]));
    for (const [rel, want] of expected) {
      if (want.kind === 'skipped') expect(skipped.get(rel), rel).toMatch(want.reason);
      else
        expect(
          layout.images.some((im) => im.path === rel),
          rel,
        ).toBe(true);
    }
    expect(layout.skipped.filter((s) => s.reason === CLUTTER_REASON)).toHaveLength(4);
    expect(isClutter('cat/._IMG_0001.jpg')).toBe(true);
    expect(isClutter('.git/objects/ab.png')).toBe(true);
    expect(isClutter('cat/IMG_0001.jpg')).toBe(false);
  });

  test('50,000 paths are laid out in well under a second', () => {
    const entries = Array.from({ length: 50_000 }, (_, i) => ({ path: `big/c${i % 50}/img_${i}.jpg` }));
    const t0 = performance.now();
    const layout = readImageFolder(entries);
    const ms = performance.now() - t0;
    expect(layout.images).toHaveLength(50_000);
    expect(layout.classes).toHaveLength(50);
    expect(ms).toBeLessThan(1000);
  });
});

describe('imageNotes', () => {
  test('animated GIFs anywhere in a large run, by name or by type, in the folder’s order', async () => {
    // 5,000 files read 2,000 per task: GIFs before, at and after the task boundaries are all found.
    const gif = (frames: number) => new Blob([animatedGif(frames) as BlobPart]);
    const paths = Array.from({ length: 5000 }, (_, i) => `f/${i}.png`);
    const blobs: Blob[] = paths.map(() => new Blob([png(2, 2, 2) as BlobPart], { type: 'image/png' }));
    for (const i of [0, 1999, 2000, 4999]) {
      paths[i] = `f/${i}.GIF`;
      blobs[i] = gif(3);
    }
    blobs[3001] = new Blob([animatedGif(2) as BlobPart], { type: 'image/gif' }); // named .png, typed GIF
    blobs[3002] = gif(4); // an animated GIF under neither name nor type: not read
    paths[42] = 'f/still.gif';
    blobs[42] = gif(1); // one frame: no remark
    const notes = await imageNotes(paths, blobs);
    expect(notes).toEqual([
      { file: 'f/0.GIF', reason: 'animated GIF: only the first of its 3 frames was evaluated' },
      { file: 'f/1999.GIF', reason: 'animated GIF: only the first of its 3 frames was evaluated' },
      { file: 'f/2000.GIF', reason: 'animated GIF: only the first of its 3 frames was evaluated' },
      { file: 'f/3001.png', reason: 'animated GIF: only the first of its 2 frames was evaluated' },
      { file: 'f/4999.GIF', reason: 'animated GIF: only the first of its 3 frames was evaluated' },
    ]);
  });
});
