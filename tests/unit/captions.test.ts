import { describe, expect, test } from 'vitest';
import {
  findCaptionFile,
  matchCaptions,
  parseCaptionFile,
  sidecarCaptions,
  sidecarTexts,
} from '../../src/data/captions';

const coco = JSON.stringify({
  images: [
    { id: 7, file_name: 'b.jpg' },
    { id: 3, file_name: 'a.jpg' },
    { id: 9, file_name: 'gone.jpg' },
  ],
  annotations: [
    { image_id: 3, caption: 'a cat' },
    { image_id: 7, caption: 'a dog' },
    { image_id: 3, caption: 'a sleeping cat' },
    { image_id: 9, caption: 'nowhere' },
  ],
});

describe('caption files', () => {
  test('COCO captions: captions in annotation order, images in images[] order', () => {
    const f = parseCaptionFile('captions.coco.json', coco);
    expect(f.format).toBe('coco');
    expect(f.rows.map((r) => `${r.file}:${r.caption}`)).toEqual([
      'a.jpg:a cat',
      'b.jpg:a dog',
      'a.jpg:a sleeping cat',
      'gone.jpg:nowhere',
    ]);
    expect(f.imageOrder).toEqual(['b.jpg', 'a.jpg', 'gone.jpg']);
  });

  test('CSV with quoted commas and a BOM, TSV, JSONL with a caption list', () => {
    const csv = parseCaptionFile('caps.csv', '\uFEFFfile,caption\r\na.jpg,"a cat, asleep"\r\nb.jpg,a dog\r\n');
    expect(csv.rows).toEqual([
      { file: 'a.jpg', caption: 'a cat, asleep' },
      { file: 'b.jpg', caption: 'a dog' },
    ]);
    const tsv = parseCaptionFile('caps.tsv', 'image\ttext\nx/a.jpg\ta cat\n');
    expect(tsv.rows).toEqual([{ file: 'x/a.jpg', caption: 'a cat' }]);
    const jsonl = parseCaptionFile(
      'caps.jsonl',
      '{"image":"a.jpg","caption":["one","two"]}\n\n{"file":"b.jpg","text":"three"}',
    );
    expect(jsonl.rows.map((r) => r.caption)).toEqual(['one', 'two', 'three']);
    expect(jsonl.imageOrder).toEqual(['a.jpg', 'b.jpg']);
  });

  test('errors name the file and the line or item', () => {
    expect(() => parseCaptionFile('caps.csv', 'name,words\na,b\n')).toThrow(/caps\.csv: the first row must name/);
    expect(() => parseCaptionFile('caps.csv', 'file,caption\na.jpg,\n')).toThrow(/caps\.csv, line 2: expected a file/);
    expect(() => parseCaptionFile('caps.jsonl', '{"file":"a.jpg","caption":"x"}\n{oops')).toThrow(
      /caps\.jsonl, line 2: not valid JSON/,
    );
    expect(() => parseCaptionFile('c.json', '{"images":[],"annotations":[{"image_id":1,"caption":"x"}]}')).toThrow(
      /c\.json, annotations\[0\]: image_id 1 is not in "images"/,
    );
    expect(() => parseCaptionFile('c.json', '{"images": [')).toThrow(/c\.json is not valid JSON/);
    expect(() => parseCaptionFile('c.xml', '')).toThrow(/c\.xml: captions must be/);
  });

  test('the caption file is found by name, COCO JSON first, shallowest first', () => {
    expect(findCaptionFile(['images/a.jpg', 'captions.csv', 'captions.coco.json', 'images-meta.json'])).toBe(2);
    expect(findCaptionFile(['x/captions.csv', 'captions.csv'])).toBe(1);
    expect(findCaptionFile(['images/a.jpg', 'notes.csv'])).toBeNull();
  });

  test('same-name .txt files beside images (clip-retrieval layout)', () => {
    const paths = ['s/0001.jpg', 's/0001.txt', 's/0002.png', 'readme.txt'];
    expect([...sidecarTexts(paths)]).toEqual([[0, 1]]);
    const f = sidecarCaptions([{ image: 's/0001.jpg', text: 'first\n\nsecond\n' }]);
    expect(f.rows).toEqual([
      { file: 's/0001.jpg', caption: 'first' },
      { file: 's/0001.jpg', caption: 'second' },
    ]);
  });
});

describe('matching captions to picked images', () => {
  test('names match by a unique path ending; missing and uncaptioned images are reported', () => {
    const m = matchCaptions(parseCaptionFile('captions.coco.json', coco), [
      'images/a.jpg',
      'images/b.jpg',
      'images/extra.jpg',
    ]);
    expect(m.images).toEqual(['images/b.jpg', 'images/a.jpg']);
    expect(m.captions).toEqual([
      { caption: 'a cat', image: 1 },
      { caption: 'a dog', image: 0 },
      { caption: 'a sleeping cat', image: 1 },
    ]);
    expect(m.missing).toEqual([{ file: 'gone.jpg', captions: 1 }]);
    expect(m.uncaptioned).toEqual(['images/extra.jpg']);
  });

  test('a bare name shared by two images is ambiguous; a full path resolves it', () => {
    const f = parseCaptionFile('c.csv', 'file,caption\na.jpg,one\ny/a.jpg,two\n./x/a.jpg,three\n');
    const m = matchCaptions(f, ['x/a.jpg', 'y/a.jpg']);
    expect(m.ambiguous).toEqual(['a.jpg']);
    expect(m.captions).toEqual([
      { caption: 'two', image: 0 },
      { caption: 'three', image: 1 },
    ]);
    expect(m.images).toEqual(['y/a.jpg', 'x/a.jpg']);
    expect(m.missing).toEqual([]);
  });
});
