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
