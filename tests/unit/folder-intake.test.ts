/**
 * Reading a picked or dropped folder (src/data/folder-intake.ts) through stand-ins for the browser's
 * directory handles and drop entries: every file, in the order listed, with its path; progress while
 * listing and reading; a cancel stops the reads; a file that cannot be read is named.
 */
import { describe, expect, test } from 'vitest';
import {
  fromDataTransfer,
  readDirectoryHandle,
  type DirHandle,
  type FileHandle,
  type ReadProgress,
} from '../../src/data/folder-intake';

/** A tree: a folder is an object of children, a file its text. */
type Tree = { [name: string]: Tree | string };

interface Reads {
  started: number;
  inFlight: number;
  maxInFlight: number;
  /** While set, each read waits for it. */
  gate: Promise<void> | null;
  /** Paths whose read fails. */
  failing: Set<string>;
}

function newReads(): Reads {
  return { started: 0, inFlight: 0, maxInFlight: 0, gate: null, failing: new Set() };
}

async function readFile(path: string, text: string, reads: Reads): Promise<File> {
  reads.started += 1;
  reads.inFlight += 1;
  reads.maxInFlight = Math.max(reads.maxInFlight, reads.inFlight);
  try {
    await new Promise((r) => setTimeout(r, 0));
    if (reads.gate) await reads.gate;
    if (reads.failing.has(path)) throw new DOMException('The file could not be read.', 'NotReadableError');
    return new File([text], path.split('/').pop()!);
  } finally {
    reads.inFlight -= 1;
  }
}

function dirHandle(name: string, tree: Tree, reads: Reads, prefix = `${name}/`): DirHandle {
  return {
    name,
    kind: 'directory',
    async *values() {
      for (const [child, v] of Object.entries(tree)) {
        await new Promise((r) => setTimeout(r, 0));
        if (typeof v === 'string') {
          const path = `${prefix}${child}`;
          yield { name: child, kind: 'file', getFile: () => readFile(path, v, reads) } satisfies FileHandle;
        } else yield dirHandle(child, v, reads, `${prefix}${child}/`);
      }
    },
  };
}

/** A drop's entries (FileSystemEntry) for a tree at `/name`. */
function dropEntry(name: string, v: Tree | string, reads: Reads, parent = ''): FileSystemEntry {
  const fullPath = `${parent}/${name}`;
  if (typeof v === 'string') {
    return {
      isFile: true,
      isDirectory: false,
      name,
      fullPath,
      file: (ok: (f: File) => void, fail: (e: unknown) => void) =>
        void readFile(fullPath.slice(1), v, reads).then(ok, fail),
    } as unknown as FileSystemEntry;
  }
  const children = Object.entries(v).map(([n, c]) => dropEntry(n, c, reads, fullPath));
  return {
    isFile: false,
    isDirectory: true,
    name,
    fullPath,
    createReader: () => {
      let at = 0;
      // Like Chromium: at most 100 entries per call, then an empty batch.
      return {
        readEntries: (ok: (b: FileSystemEntry[]) => void) => setTimeout(() => ok(children.slice(at, (at += 100))), 0),
      };
    },
  } as unknown as FileSystemEntry;
}

function dataTransfer(entries: FileSystemEntry[]): DataTransfer {
  const items = entries.map((e) => ({ kind: 'file', webkitGetAsEntry: () => e }));
  return { items, files: [] } as unknown as DataTransfer;
}

/** Three class folders of `n` files each, one nested deeper, and a file at the top. */
function classTree(n: number): { tree: Tree; paths: string[] } {
  const tree: Tree = { 'README.txt': 'about' };
  const paths = ['pets/README.txt'];
  for (const c of ['cat', 'dog', 'bird']) {
    const folder: Tree = {};
    for (let i = 0; i < n; i++) {
      folder[`${c}-${i}.png`] = `${c} ${i}`;
      paths.push(`pets/${c}/${c}-${i}.png`);
    }
    if (c === 'dog') {
      folder.puppies = { 'p-0.jpg': 'puppy' };
      paths.push('pets/dog/puppies/p-0.jpg');
    }
    tree[c] = folder;
  }
  return { tree, paths };
}

describe('readDirectoryHandle', () => {
  test('every file, in the order listed, with its path under the folder and its own content', async () => {
    const reads = newReads();
    const { tree, paths } = classTree(150);
    const progress: ReadProgress[] = [];
    const files = await readDirectoryHandle(dirHandle('pets', tree, reads), { onProgress: (p) => progress.push(p) });
    expect(files.map((f) => f.path)).toEqual(paths);
    expect(await files[1]!.file.text()).toBe('cat 0');
    expect(await files.at(-1)!.file.text()).toBe('bird 149');
    expect(reads.started).toBe(paths.length);
    // Several reads in flight, never more than the bound.
    expect(reads.maxInFlight).toBeGreaterThan(1);
    expect(reads.maxInFlight).toBeLessThanOrEqual(32);
    // Listing first (found grows, nothing read), then reading towards the total, ending complete.
    expect(progress[0]).toEqual({ found: 0, read: 0, listing: true });
    const firstRead = progress.findIndex((p) => !p.listing);
    expect(firstRead).toBeGreaterThan(0);
    expect(progress.slice(firstRead).every((p) => p.found === paths.length && !p.listing)).toBe(true);
    const reads_ = progress.slice(firstRead).map((p) => p.read);
    expect(reads_).toEqual([...reads_].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual({ found: paths.length, read: paths.length, listing: false });
  });

  test('a cancel stops the reads: the read rejects and asks for no further file', async () => {
    const reads = newReads();
    const { tree } = classTree(200);
    let release!: () => void;
    reads.gate = new Promise((r) => (release = r));
    const ac = new AbortController();
    const p = readDirectoryHandle(dirHandle('pets', tree, reads), {
      signal: ac.signal,
      onProgress: (pr) => {
        if (!pr.listing) setTimeout(() => ac.abort(), 0);
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    const started = reads.started;
    release();
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBeLessThanOrEqual(32);
    expect(reads.started).toBe(started);
  });

  test('a cancel while listing stops the listing', async () => {
    const reads = newReads();
    const ac = new AbortController();
    const p = readDirectoryHandle(dirHandle('pets', classTree(200).tree, reads), {
      signal: ac.signal,
      onProgress: (pr) => {
        if (pr.found >= 1) ac.abort();
      },
    });
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(reads.started).toBe(0);
  });

  test('a file that cannot be read is named, with the browser’s reason', async () => {
    const reads = newReads();
    reads.failing.add('pets/dog/dog-7.png');
    await expect(readDirectoryHandle(dirHandle('pets', classTree(20).tree, reads))).rejects.toThrow(
      /^\[bad-input\] pets\/dog\/dog-7\.png could not be read \(NotReadableError: The file could not be read\.\)/,
    );
  });
});

describe('fromDataTransfer', () => {
  test('dropped folders and files: every file in order, with its path and content', async () => {
    const reads = newReads();
    const { tree, paths } = classTree(120);
    const progress: ReadProgress[] = [];
    const dt = dataTransfer([dropEntry('pets', tree, reads), dropEntry('loose.jpg', 'loose', reads)]);
    const files = await fromDataTransfer(dt, { onProgress: (p) => progress.push(p) });
    expect(files.map((f) => f.path)).toEqual([...paths, 'loose.jpg']);
    expect(await files.at(-2)!.file.text()).toBe('bird 119');
    expect(reads.maxInFlight).toBeGreaterThan(1);
    expect(reads.maxInFlight).toBeLessThanOrEqual(32);
    expect(progress.at(-1)).toEqual({ found: paths.length + 1, read: paths.length + 1, listing: false });
  });

  test('a dropped file that cannot be read is named', async () => {
    const reads = newReads();
    reads.failing.add('pets/cat/cat-3.png');
    await expect(fromDataTransfer(dataTransfer([dropEntry('pets', classTree(10).tree, reads)]))).rejects.toThrow(
      /pets\/cat\/cat-3\.png could not be read \(NotReadableError/,
    );
  });
});
