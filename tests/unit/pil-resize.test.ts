/** PIL-exact bicubic resize against Pillow's own output (fixture made by scripts/fixtures/make-pil-resize.py). */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { resizeBicubicPil } from '../../src/core/pil-resize';
import { REPO } from '../helpers/paths';

interface Case {
  width: number;
  height: number;
  input: string;
  outWidth: number;
  outHeight: number;
  output: string;
}
const fixture = JSON.parse(fs.readFileSync(path.join(REPO, 'tests/fixtures/pil-resize.json'), 'utf8')) as {
  pillow: string;
  cases: Case[];
};

for (const c of fixture.cases) {
  test(`${c.width}×${c.height} → ${c.outWidth}×${c.outHeight} equals Pillow ${fixture.pillow} byte for byte`, () => {
    const src = { data: Buffer.from(c.input, 'base64'), width: c.width, height: c.height, channels: 3 };
    const out = resizeBicubicPil(src, c.outWidth, c.outHeight);
    const expected = Buffer.from(c.output, 'base64');
    expect(out.width).toBe(c.outWidth);
    expect(out.height).toBe(c.outHeight);
    let mismatches = 0;
    for (let i = 0; i < expected.length; i++) if (out.data[i] !== expected[i]) mismatches++;
    expect(mismatches).toBe(0);
  });
}
