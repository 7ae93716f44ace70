/**
 * The ImageFolder layout (one subfolder per class, images at any depth below it) read from a list of
 * relative paths, plus the optional class-name files found beside the class folders — or, for a flat
 * folder (every image directly in the picked folder), classes and labels from a per-image label list
 * (a metadata file's label column). Pure: works on paths only, so the UI, the bench and the tests share it.
 */

export interface FolderEntry {
  path: string;
  /** MIME type when known (files picked in a browser have one). */
  type?: string;
}

export interface LabelledImage {
  /** Path relative to the dataset root, '/'-separated (`cat/0001.jpg`). */
  path: string;
  /** Index into `classes` (with metadata labels, the first acceptable class). */
  label: number;
  /** Index into the input entries. */
  entry: number;
  /** Every acceptable class (indices into `classes`, ascending) when the metadata lists more than one. */
  accepted?: number[];
}

/**
 * Labels of a flat folder's images from elsewhere than folders: `of` gives, per image path (relative
 * to the picked folder), its label values — null when nothing names the image, [] when its label is empty.
 */
export interface ImageLabels {
  /** The file the labels come from (`metadata.csv`). */
  file: string;
  /** Its label column (`object`). */
  column: string;
  of(paths: string[]): (readonly string[] | null)[];
}

export interface Skipped {
  file: string;
  reason: string;
}

export interface ImageFolderLayout {
  /** The folder that was stripped from every path (`dev` when `dev/` was picked), or ''. */
  root: string;
  /** Class folder names, sorted by code point as torchvision's ImageFolder sorts them. */
  classes: string[];
  images: LabelledImage[];
  skipped: Skipped[];
  /** Entry indices of the class-name and template files found at the root. */
  classesJson: number | null;
  classnamesTxt: number | null;
  templatesTxt: number | null;
  /** Every image lies directly in the picked folder (no class subfolders): labels must come from metadata. */
  flat: boolean;
  /** Where classes and labels came from when not from class folders. */
  labelSource: { file: string; column: string } | null;
  /** Images left out for want of a label (no row, or an empty label); listed in `skipped` with the reason. */
  unlabelled: number;
}

/**
 * Files taken as images: what browsers decode, plus formats people keep photos in that some browsers
 * cannot (HEIC, TIFF) and vector images (SVG), so those are reported with their specific reason
 * instead of vanishing as "not an image".
 */
const IMAGE_EXT = /\.(jpe?g|jfif|png|apng|webp|gif|bmp|avif|heic|heif|tiff?|svg)$/i;

export function isImageName(path: string, type = ''): boolean {
  return IMAGE_EXT.test(path) || type.startsWith('image/');
}

/** Reason shown for files operating systems and archivers leave behind. */
export const CLUTTER_REASON = 'system file (not part of the data)';

/**
 * Files that operating systems and archivers leave in folders: macOS `.DS_Store` and `._*` resource
 * forks (and whole `__MACOSX/` folders in zips), Windows `Thumbs.db` and `desktop.ini`, hidden
 * dot-folders such as `.git/`. They are skipped and counted, never taken as images or classes.
 */
export function isClutter(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (/^(\.DS_Store|Thumbs\.db|ehthumbs\.db|desktop\.ini|Icon\r|\._.*)$/i.test(base)) return true;
  // Most paths have no folder named __MACOSX or starting with a dot: skip the split for them (50,000-file intake).
  if (!path.includes('__MACOSX') && !path.startsWith('.') && !path.includes('/.')) return false;
  return path
    .split('/')
    .slice(0, -1)
    .some((d) => d === '__MACOSX' || (d.startsWith('.') && d !== '.' && d !== '..'));
}

/** Code-point order (Python's `sorted`), not locale order: class indices must match other tools. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Directory segments shared by every path (the folder the user picked, when there is one). */
function commonRoot(paths: string[]): string[] {
  if (paths.length === 0) return [];
  let prefix = (paths[0] as string).split('/').slice(0, -1);
  // "a/b/" as text: a path under it needs no split (the common case: every path starts with the picked folder).
  let text = prefix.length ? `${prefix.join('/')}/` : '';
  for (const p of paths) {
    if (text && p.startsWith(text)) continue;
    const dirs = p.split('/').slice(0, -1);
    let k = 0;
    while (k < prefix.length && k < dirs.length && prefix[k] === dirs[k]) k++;
    prefix = prefix.slice(0, k);
    if (prefix.length === 0) break;
    text = `${prefix.join('/')}/`;
  }
  return prefix;
}

function slashes(path: string): number {
  let n = 0;
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) n++;
  return n;
}

/** Directory depth of a path below `root` (0 = directly in it). */
const depthBelow = (path: string, root: string[]) => slashes(path) - root.length;

/**
 * Read the layout. Class folders give the classes, unless `labels` are given (a flat folder, or one whose
 * subfolders are not classes, e.g. Dollar Street's `assets/<id>/`): then the classes are the distinct
 * label values (a list contributes each), sorted by code point, images at any depth are labelled by
 * their rows, and images without a row or with an empty label are skipped, by name, with the reason.
 */
export function readImageFolder(entries: FolderEntry[], labels?: ImageLabels): ImageFolderLayout {
  const root = commonRoot(entries.map((e) => e.path));
  // Whether each path is an image, decided once (50,000-file folders).
  const isImage = entries.map((e) => isImageName(e.path, e.type));
  const images = entries.filter((e, i) => isImage[i] && !isClutter(e.path));
  // Every image directly in one folder: the folder picked (or images dropped loose, root '').
  const flat = images.length > 0 && images.every((e) => depthBelow(e.path, root) === 0);
  const byMetadata = labels !== undefined;
  // The root never swallows the class level: a folder holding one class folder (or a class folder
  // picked by itself) keeps that folder as its one class, so the message can name it. A flat folder
  // labelled by metadata keeps its own folder as the root.
  while (!byMetadata && root.length > 0 && images.length > 0 && images.every((e) => depthBelow(e.path, root) < 1)) {
    root.pop();
  }
  const strip = root.length > 0 ? root.join('/').length + 1 : 0;
  const rel = entries.map((e) => e.path.slice(strip));

  const layout: ImageFolderLayout = {
    root: root.join('/'),
    classes: [],
    images: [],
    skipped: [],
    classesJson: null,
    classnamesTxt: null,
    templatesTxt: null,
    flat,
    labelSource: byMetadata ? { file: labels.file, column: labels.column } : null,
    unlabelled: 0,
  };
  const pending: { path: string; folder: string; entry: number }[] = [];
  rel.forEach((path, i) => {
    if (isClutter(path)) {
      layout.skipped.push({ file: path, reason: CLUTTER_REASON });
      return;
    }
    const slash = path.indexOf('/');
    const image = isImage[i]!;
    if (slash < 0 && byMetadata && image) {
      pending.push({ path, folder: '', entry: i });
      return;
    }
    if (slash < 0) {
      const lower = path.toLowerCase();
      if (lower === 'classes.json') layout.classesJson = i;
      else if (lower === 'classnames.txt') layout.classnamesTxt = i;
      else if (lower === 'templates.txt') layout.templatesTxt = i;
      else if (byMetadata && path === labels.file)
        return; // the labels' own file
      else if (!/^(source|readme|license)/i.test(path)) {
        layout.skipped.push({ file: path, reason: image ? 'not inside a class folder' : 'not an image' });
      }
      return;
    }
    if (!image) {
      layout.skipped.push({ file: path, reason: 'not an image' });
      return;
    }
    pending.push({ path, folder: byMetadata ? '' : path.slice(0, slash), entry: i });
  });
  if (byMetadata) labelFromList(layout, pending, labels);
  else {
    layout.classes = [...new Set(pending.map((p) => p.folder))].sort(byCodePoint);
    const index = new Map(layout.classes.map((c, k) => [c, k]));
    layout.images = pending.map((p) => ({ path: p.path, label: index.get(p.folder) as number, entry: p.entry }));
  }
  layout.images.sort((a, b) => byCodePoint(a.path, b.path));
  return layout;
}

/** Classes from the distinct label values; per image its first value's class and, for several, all. */
function labelFromList(layout: ImageFolderLayout, pending: { path: string; entry: number }[], labels: ImageLabels) {
  const values = labels.of(pending.map((p) => p.path)).map((vs) => (vs ? [...new Set(vs.map((v) => v.trim()))] : vs));
  layout.classes = [...new Set(values.flatMap((vs) => (vs ?? []).filter(Boolean)))].sort(byCodePoint);
  const index = new Map(layout.classes.map((c, k) => [c, k]));
  pending.forEach((p, i) => {
    const vs = values[i]?.filter(Boolean) ?? null;
    if (vs === null || vs.length === 0) layout.unlabelled += 1;
    if (vs === null) layout.skipped.push({ file: p.path, reason: `no row in ${labels.file}` });
    else if (vs.length === 0) layout.skipped.push({ file: p.path, reason: `no “${labels.column}” in ${labels.file}` });
    else {
      const image: LabelledImage = { path: p.path, label: index.get(vs[0]!)!, entry: p.entry };
      if (vs.length > 1) image.accepted = vs.map((v) => index.get(v)!).sort((a, b) => a - b);
      layout.images.push(image);
    }
  });
}

/**
 * Display names for the class folders from `classes.json` — a list of `{ folder, clip_name }` or an
 * object `{ folder: name }` — or from CLIP_benchmark's `classnames.txt` (one name per line, in the
 * sorted folder order). Errors name the file and the problem. Folders without a name keep a default.
 */
export function classNamesFrom(
  classes: string[],
  file: { name: string; text: string } | null,
): { names: string[]; unmatched: string[] } {
  const names = classes.map(defaultClassName);
  if (!file) return { names, unmatched: [] };
  const given = new Map<string, string>();
  if (file.name.toLowerCase().endsWith('.json')) {
    let data: unknown;
    try {
      data = JSON.parse(file.text);
    } catch (e) {
      throw new Error(`${file.name} is not valid JSON (${e instanceof Error ? e.message : String(e)}).`, {
        cause: e,
      });
    }
    if (Array.isArray(data)) {
      data.forEach((row: unknown, i) => {
        const r = row as { folder?: unknown; clip_name?: unknown; name?: unknown };
        const name = r?.clip_name ?? r?.name;
        if (typeof r?.folder !== 'string' || typeof name !== 'string') {
          throw new Error(`${file.name}, item ${i + 1}: expected { "folder": …, "clip_name": … }.`);
        }
        given.set(r.folder, name);
      });
    } else if (data && typeof data === 'object') {
      for (const [folder, name] of Object.entries(data)) {
        if (typeof name !== 'string') throw new Error(`${file.name}: the name of “${folder}” is not a string.`);
        given.set(folder, name);
      }
    } else {
      throw new Error(`${file.name}: expected a list of { folder, clip_name } or an object { folder: name }.`);
    }
  } else {
    const lines = file.text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (lines.length !== classes.length) {
      throw new Error(
        `${file.name} has ${lines.length} names but the folder has ${classes.length} class folders; ` +
          'it must list one name per class folder, in sorted folder order.',
      );
    }
    classes.forEach((c, k) => given.set(c, lines[k] as string));
  }
  const unmatched: string[] = [];
  classes.forEach((c, k) => {
    const name = given.get(c);
    if (name !== undefined && name.trim()) names[k] = name.trim();
    else unmatched.push(c);
  });
  return { names, unmatched };
}

/** A folder name as a prompt word: `British_Shorthair` → `British Shorthair`. */
export function defaultClassName(folder: string): string {
  return folder.replace(/[_]+/g, ' ').trim() || folder;
}
