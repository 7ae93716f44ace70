/**
 * Whether a production build in `outDir` is newer than every source it is built from, so test files
 * that share one build (the fault suite) build it once per change instead of once per file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './paths';

const INPUTS = [
  'src',
  'workers',
  'public',
  'index.html',
  'vite.config.ts',
  'package-lock.json',
  'scripts/models-dir.ts',
];

function newest(p: string): number {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = st.mtimeMs;
  for (const f of fs.readdirSync(p, { recursive: true }) as string[])
    t = Math.max(t, fs.statSync(path.join(p, f)).mtimeMs);
  return t;
}

export function isBuildFresh(outDir: string): boolean {
  const index = path.join(REPO, outDir, 'index.html');
  if (!fs.existsSync(index)) return false;
  const built = fs.statSync(index).mtimeMs;
  return INPUTS.every((i) => !fs.existsSync(path.join(REPO, i)) || newest(path.join(REPO, i)) < built);
}
