/**
 * A flat folder labelled by a metadata file: the classes are the label column's distinct values (a
 * list cell contributes each), every image's label comes from its row, images without a row or with
 * an empty label are skipped by name; a folder with subfolders is labelled by them unless labels are given
 * (Dollar Street's one folder per photo). And
 * "any of" credit: the labels a run is scored against when an image accepts several classes.
 * Expectations counted by hand from the rows below.
 */
import { describe, expect, test } from 'vitest';
import { classNamesFrom, readImageFolder } from '../../src/core/image-folder';
import { metadataLabels, parseMetadataFile } from '../../src/data/metadata';
import { computeMetrics, creditedLabels, perTemplateAccuracy, type Predictions } from '../../src/core/metrics';

const CSV = [
  'file,label,region',
  'a.jpg,dog,asia',
  `photos/b.jpg,"['cat', 'dog']",europe`, // a list, and a path that matches by its ending
  'c.png,bird,asia',
  'e.jpg,,africa', // an empty label
  'gone.jpg,cat,asia', // names no image
  'f.jpg,golden_retriever|dog,asia', // a pipe list
].join('\n');

const FLAT = [
  'photos/a.jpg',
  'photos/b.jpg',
  'photos/c.png',
  'photos/d.jpg', // no row
  'photos/e.jpg',
  'photos/f.jpg',
  'photos/metadata.csv',
  'photos/classes.json',
  'photos/notes.txt',
  'photos/.DS_Store',
].map((path) => ({ path }));

const table = parseMetadataFile('metadata.csv', CSV);

describe('a flat folder labelled by its metadata', () => {
  const layout = readImageFolder(FLAT, metadataLabels(table, 'label'));

  test('classes are the distinct label values, list items included, sorted by code point', () => {
    expect(layout.flat).toBe(true);
    expect(layout.root).toBe('photos');
    expect(layout.labelSource).toEqual({ file: 'metadata.csv', column: 'label' });
    expect(layout.classes).toEqual(['bird', 'cat', 'dog', 'golden_retriever']);
  });

  test("each image's label is its row's first value; a list gives every acceptable class", () => {
    expect(layout.images.map((im) => [im.path, im.label, im.accepted ?? null])).toEqual([
      ['a.jpg', 2, null],
      ['b.jpg', 1, [1, 2]],
      ['c.png', 0, null],
      ['f.jpg', 3, [2, 3]],
    ]);
    expect(layout.classesJson).toBe(7);
  });

  test('images without a row or with an empty label are skipped by name, with the reason', () => {
    expect(layout.unlabelled).toBe(2);
    // Files that are not images first (in the order picked), then the unlabelled images; the metadata
    // file itself and classes.json are not listed.
    expect(layout.skipped).toEqual([
      { file: 'notes.txt', reason: 'not an image' },
      { file: '.DS_Store', reason: 'system file (not part of the data)' },
      { file: 'd.jpg', reason: 'no row in metadata.csv' },
      { file: 'e.jpg', reason: 'no “label” in metadata.csv' },
    ]);
  });

  test('another column gives other classes', () => {
    const byRegion = readImageFolder(FLAT, metadataLabels(table, 'region'));
    expect(byRegion.classes).toEqual(['africa', 'asia', 'europe']);
    // e.jpg has a region, so only d.jpg (no row) is left out.
    expect(byRegion.images.map((im) => im.path)).toEqual(['a.jpg', 'b.jpg', 'c.png', 'e.jpg', 'f.jpg']);
    expect(byRegion.unlabelled).toBe(1);
  });

  test('without labels the flat folder is one class folder, as before', () => {
    const plain = readImageFolder(FLAT);
    expect(plain.flat).toBe(true);
    expect(plain.labelSource).toBeNull();
    expect(plain.classes).toEqual(['photos']);
  });

  test('a folder with subfolders: its folders without labels; with labels (subfolders that are not classes), its rows', () => {
    const files = ['dev/cat/a.jpg', 'dev/dog/c.png', 'dev/metadata.csv'].map((path) => ({ path }));
    const byFolder = readImageFolder(files);
    expect(byFolder.flat).toBe(false);
    expect(byFolder.labelSource).toBeNull();
    expect(byFolder.classes).toEqual(['cat', 'dog']);
    expect(byFolder.images.map((im) => [im.path, im.label])).toEqual([
      ['cat/a.jpg', 0],
      ['dog/c.png', 1],
    ]);
    // Dollar Street's layout: one folder per photo; a.jpg is a dog and c.png a bird in the rows.
    const ds = readImageFolder(
      ['ds/assets/1/a.jpg', 'ds/assets/2/c.png', 'ds/metadata.csv'].map((path) => ({ path })),
      metadataLabels(table, 'label'),
    );
    expect(ds.flat).toBe(false);
    expect(ds.labelSource).toEqual({ file: 'metadata.csv', column: 'label' });
    expect(ds.classes).toEqual(['bird', 'dog']);
    expect(ds.images.map((im) => [im.path, im.label])).toEqual([
      ['assets/1/a.jpg', 1],
      ['assets/2/c.png', 0],
    ]);
    expect(ds.skipped).toEqual([]);
  });

  test('WordNet ids take their names from classes.json; other labels are their own prompt names', () => {
    const wn = parseMetadataFile('m.csv', 'file,imagenet_sysnet_id\na.jpg,n02084071\nb.jpg,"[""n01530575""]"\n');
    const l = readImageFolder(
      ['a.jpg', 'b.jpg'].map((path) => ({ path })),
      metadataLabels(wn, 'imagenet_sysnet_id'),
    );
    expect(l.root).toBe('');
    expect(l.classes).toEqual(['n01530575', 'n02084071']);
    const json = { name: 'classes.json', text: '{"n02084071": "dog", "n01530575": "brambling"}' };
    expect(classNamesFrom(l.classes, json).names).toEqual(['brambling', 'dog']);
    expect(classNamesFrom(layout.classes, null).names).toEqual(['bird', 'cat', 'dog', 'golden retriever']);
  });
});

describe('"any of" credit', () => {
  // Four images, four classes, top-2 per image.
  const pred: Predictions = {
    k: 2,
    topk: Int32Array.from([2, 1, 3, 0, 0, 3, 1, 0]),
    topkProb: Float32Array.from([0.6, 0.3, 0.5, 0.4, 0.7, 0.2, 0.9, 0.1]),
  };
  const labels = Int32Array.from([1, 1, 0, 3]);
  // Image 0 accepts 1 or 2 (predicted 2: right); image 1 accepts 1 or 2 (top-2 is 3, 0: wrong, keeps 1);
  // image 2 has one label; image 3 accepts 3 or 0 (0 is second: top-2 right, top-1 wrong).
  const accepted = [[1, 2], [1, 2], null, [0, 3]];

  test('the credited label is the first acceptable prediction, else the image’s own', () => {
    expect(Array.from(creditedLabels(pred, labels, accepted))).toEqual([2, 1, 0, 0]);
  });

  test('top-1 and top-k over the credited labels are the "any of" accuracies', () => {
    const m = computeMetrics(pred, creditedLabels(pred, labels, accepted), 4);
    expect(m.acc1).toBe(2 / 4); // images 0 and 2
    const strict = computeMetrics(pred, labels, 4);
    expect(strict.acc1).toBe(1 / 4); // image 2 only
  });

  test('per-template accuracy accepts any acceptable class too', () => {
    // Two classes, one template, dim 2: image 0 is nearest class 1, image 1 nearest class 0.
    const images = Float32Array.from([0, 1, 1, 0]);
    const prompts = Float32Array.from([1, 0, 0, 1]);
    const lab = Int32Array.from([0, 1]);
    expect(perTemplateAccuracy(images, lab, prompts, 2, 1, 2)).toEqual([0]);
    expect(perTemplateAccuracy(images, lab, prompts, 2, 1, 2, [[0, 1], null])).toEqual([0.5]);
  });
});
