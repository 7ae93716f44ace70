/**
 * Turns what the user picks or drops into `{ path, file }` records: a directory picker (File System
 * Access API where the browser has it), `<input webkitdirectory>` files, or a drag-and-drop of files
 * and folders. Paths use '/' and are relative to what was picked.
 */
import { isClutter, isImageName } from '../core/image-folder';

export interface PickedFile {
  path: string;
  file: File;
}

interface DirHandle {
  name: string;
  kind: 'directory';
  values(): AsyncIterable<DirHandle | FileHandle>;
}
interface FileHandle {
  name: string;
  kind: 'file';
  getFile(): Promise<File>;
}

/** True when `showDirectoryPicker` exists (Chromium); elsewhere use `<input webkitdirectory>`. */
export function hasDirectoryPicker(): boolean {
  return typeof (globalThis as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';
}

async function walkHandle(dir: DirHandle, prefix: string, out: PickedFile[]): Promise<void> {
  for await (const entry of dir.values()) {
    const path = `${prefix}${entry.name}`;
    if (entry.kind === 'file') out.push({ path, file: await entry.getFile() });
    else await walkHandle(entry, `${path}/`, out);
  }
}

/** Ask for a folder with the File System Access API; resolves to null when the user cancels. */
export async function pickDirectory(): Promise<PickedFile[] | null> {
  const picker = (globalThis as unknown as { showDirectoryPicker: (o?: object) => Promise<DirHandle> })
    .showDirectoryPicker;
  let dir: DirHandle;
  try {
    dir = await picker({ mode: 'read' });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') return null;
    throw e;
  }
  const out: PickedFile[] = [];
  await walkHandle(dir, `${dir.name}/`, out);
  return out;
}

/** Files from `<input type=file webkitdirectory>` (or a plain multi-file input). */
export function fromFileList(list: FileList | File[]): PickedFile[] {
  return Array.from(list, (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  // readEntries returns at most ~100 entries per call; keep reading until it returns none.
  return new Promise((resolve, reject) => {
    const all: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(all);
        else {
          all.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walkEntry(entry: FileSystemEntry, out: PickedFile[]): Promise<void> {
  const path = entry.fullPath.replace(/^\//, '');
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path, file });
  } else if (entry.isDirectory) {
    const children = await readAllEntries((entry as FileSystemDirectoryEntry).createReader());
    for (const c of children) await walkEntry(c, out);
  }
}

/** Everything dropped, folders walked recursively. */
export async function fromDataTransfer(dt: DataTransfer): Promise<PickedFile[]> {
  const entries = Array.from(dt.items)
    .map((item) => (item.kind === 'file' ? item.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return fromFileList(dt.files);
  const out: PickedFile[] = [];
  for (const e of entries) await walkEntry(e, out);
  return out;
}

/** Whether a file looks like an image by name or type (decoding decides for sure); system clutter never does. */
export function looksLikeImage(p: PickedFile): boolean {
  return isImageName(p.path, p.file.type) && !isClutter(p.path);
}
