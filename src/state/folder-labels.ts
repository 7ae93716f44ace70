/**
 * How a picked folder is labelled, said in words: the class names from its classes.json or
 * classnames.txt, and what is wrong when it has fewer than two classes (class folders, or a flat folder
 * and the metadata file meant to label it). Used by ClassifyState's intake.
 */
import { classNamesFrom, type ImageFolderLayout } from '../core/image-folder';
import { LABEL_COLUMNS, type MetadataTable } from '../data/metadata';
import type { PickedFile } from '../data/folder-intake';

/** A flat folder's label source: a metadata file (beside the images or picked) and its label column. */
export interface LabelMetadata {
  table: MetadataTable;
  origin: 'beside the images' | 'picked';
  /** The column the labels come from: the user's choice, else a recognised one; null when neither. */
  column: string | null;
}

/**
 * What is wrong with a layout of fewer than two classes, said so a person can fix it; `meta` is the
 * metadata file meant to label the folder (null when the folders are the classes).
 */
export function layoutProblem(layout: ImageFolderLayout, meta: LabelMetadata | null): string {
  const src = layout.labelSource;
  if (src)
    return layout.classes.length === 0
      ? `No image has a label in “${src.column}” of ${src.file}. Choose the column that holds the labels.`
      : `Every labelled image has the same label in “${src.column}” of ${src.file} (“${layout.classes[0]}”); zero-shot classification needs at least two classes.`;
  if (meta)
    return `${meta.table.name} has no label column (${LABEL_COLUMNS.join(', ')}); choose the column that holds each image's label.`;
  if (layout.classes.length === 0)
    return "No images in class folders were found. Pick a folder with one subfolder per class (the ImageFolder layout), or a folder of images with a metadata file giving each image's label.";
  return (
    `Only one class folder (“${layout.classes[0]}”) was found; pick the folder that holds the class folders` +
    (layout.flat ? ", or add a metadata file (a .csv with a file and a label column) giving each image's label." : '.')
  );
}

/**
 * Prompt names of the classes from the folder's classes.json or classnames.txt (folder names when it has
 * neither); a file that cannot be used gives the folder names and a warning saying why.
 */
export async function classNamesOf(
  entries: PickedFile[],
  layout: ImageFolderLayout,
): Promise<{ names: string[]; unmatched: string[]; source: string; warning: string | null }> {
  const idx = layout.classesJson ?? layout.classnamesTxt;
  const file = idx !== null ? entries[idx]! : null;
  const fileName = file ? (file.path.split('/').pop() ?? file.path) : '';
  try {
    const r = classNamesFrom(layout.classes, file ? { name: fileName, text: await file.file.text() } : null);
    return { ...r, source: file ? fileName : 'folder names', warning: null };
  } catch (e) {
    return {
      names: classNamesFrom(layout.classes, null).names,
      unmatched: [],
      source: 'folder names',
      warning: `${e instanceof Error ? e.message : String(e)} Using the folder names instead.`,
    };
  }
}
