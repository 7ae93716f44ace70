/**
 * Pillow-exact NEAREST, LANCZOS, BILINEAR, BOX and HAMMING resizes against Pillow's own output
 * (fixture made by scripts/fixtures/make-pil-resample.py). Tolerance: none — every byte must match.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { resizePil } from '../../src/core/pil-resize';
import { REPO } from '../helpers/paths';

interface Case {
  filter: number;
  filterName: string;
  width: number;
  height: number;
  input: string;
  outWidth: number;
  outHeight: number;
  output: string;
}
const fixture = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/fixtures/pil-resample.json'), 'utf8')) as {
  pillow: string;
  cases: Case[];
};

test('the fixture covers every non-bicubic filter', () => {
  expect(new Set(fixture.cases.map((c) => c.filterName))).toEqual(
    new Set(['NEAREST', 'LANCZOS', 'BILINEAR', 'BOX', 'HAMMING']),
  );
});

for (const c of fixture.cases) {
  test(`${c.filterName} ${c.width}×${c.height} → ${c.outWidth}×${c.outHeight} equals Pillow ${fixture.pillow} byte for byte`, () => {
    const src = { data: Buffer.from(c.input, 'base64'), width: c.width, height: c.height, channels: 3 };
    const out = resizePil(src, c.outWidth, c.outHeight, c.filter);
    const expected = Buffer.from(c.output, 'base64');
    expect([out.width, out.height]).toEqual([c.outWidth, c.outHeight]);
    let mismatches = 0;
    for (let i = 0; i < expected.length; i++) if (out.data[i] !== expected[i]) mismatches++;
    expect(mismatches).toBe(0);
  });
}

/**
 * A window of the result (what a center crop keeps) is computed alone, passes cut to the rows and
 * columns it needs: every byte must equal the same window of Pillow's full result.
 */
const bicubic = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/fixtures/pil-resize.json'), 'utf8')) as {
  cases: Omit<Case, 'filter' | 'filterName'>[];
};
const everyCase = [...fixture.cases, ...bicubic.cases.map((c) => ({ ...c, filter: 3, filterName: 'BICUBIC' }))];

function windowsOf(w: number, h: number) {
  const centre = { left: Math.floor((w - Math.ceil(w / 2)) / 2), top: Math.floor((h - Math.ceil(h / 2)) / 2) };
  return [
    { ...centre, width: Math.ceil(w / 2), height: Math.ceil(h / 2) },
    { left: 0, top: 0, width: 1, height: 1 },
    { left: w - 1, top: h - 1, width: 1, height: 1 },
    { left: 0, top: Math.floor(h / 3), width: w, height: Math.max(1, Math.floor(h / 3)) },
    { left: Math.floor(w / 3), top: 0, width: Math.max(1, Math.floor(w / 3)), height: h },
    { left: 0, top: 0, width: w, height: h },
  ];
}

test('a window of the resize equals the same window of Pillow’s full result, for every filter and case', () => {
  let checked = 0;
  for (const c of everyCase) {
    const src = { data: Buffer.from(c.input, 'base64'), width: c.width, height: c.height, channels: 3 };
    const full = Buffer.from(c.output, 'base64');
    for (const win of windowsOf(c.outWidth, c.outHeight)) {
      const out = resizePil(src, c.outWidth, c.outHeight, c.filter, win);
      expect([out.width, out.height]).toEqual([win.width, win.height]);
      let mismatches = 0;
      for (let y = 0; y < win.height; y++) {
        for (let x = 0; x < win.width * 3; x++) {
          const want = full[((win.top + y) * c.outWidth + win.left) * 3 + x];
          if (out.data[y * win.width * 3 + x] !== want) mismatches++;
        }
      }
      expect(
        mismatches,
        `${c.filterName} ${c.width}×${c.height} → ${c.outWidth}×${c.outHeight} ${JSON.stringify(win)}`,
      ).toBe(0);
      checked++;
    }
  }
  expect(checked).toBe(everyCase.length * 6);
});

/** `rgb` with an alpha byte after each pixel (varied, so a resize that read it would show). */
function withAlpha(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    out.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    out[i * 4 + 3] = (i * 37 + 11) & 255;
  }
  return out;
}

test('an RGBA source with 3 channels kept equals Pillow’s RGB result, for every filter, case and window', () => {
  let checked = 0;
  for (const c of everyCase) {
    const rgb = Buffer.from(c.input, 'base64');
    const src = { data: withAlpha(rgb), width: c.width, height: c.height, channels: 4 };
    const rgbSrc = { data: rgb, width: c.width, height: c.height, channels: 3 };
    for (const win of [undefined, ...windowsOf(c.outWidth, c.outHeight)]) {
      const out = resizePil(src, c.outWidth, c.outHeight, c.filter, win, 3);
      const want = resizePil(rgbSrc, c.outWidth, c.outHeight, c.filter, win);
      expect(out.channels).toBe(3);
      expect(Buffer.from(out.data).equals(Buffer.from(want.data)), `${c.filterName} ${JSON.stringify(win)}`).toBe(true);
      checked++;
    }
  }
  // The same size (no pass at all) and one side unchanged (one pass) keep 3 of 4 channels too.
  const rgb = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 53) & 255);
  const src = { data: withAlpha(rgb), width: 5, height: 4, channels: 4 };
  for (const [w, h] of [
    [5, 4],
    [5, 7],
    [3, 4],
  ] as const) {
    for (const filter of [0, 1, 2, 3, 4, 5]) {
      const out = resizePil(src, w, h, filter, undefined, 3);
      const want = resizePil({ data: rgb, width: 5, height: 4, channels: 3 }, w, h, filter);
      expect(Array.from(out.data), `${w}×${h} filter ${filter}`).toEqual(Array.from(want.data));
    }
  }
  expect(checked).toBe(everyCase.length * 7);
});

test('keeping more channels than the source has is refused', () => {
  const src = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 };
  expect(() => resizePil(src, 8, 8, 3, undefined, 4)).toThrow(RangeError);
});

test('a window outside the result is refused', () => {
  const src = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 };
  expect(() => resizePil(src, 8, 8, 3, { left: 4, top: 0, width: 5, height: 8 })).toThrow(RangeError);
});
