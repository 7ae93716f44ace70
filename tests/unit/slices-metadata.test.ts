/**
 * Per-image metadata intake: the four formats, Dollar Street's and GeoDE's columns recognised, list
 * cells, column kinds, matching to the run's images like caption files, and errors naming the file.
 */
import { describe, expect, test } from 'vitest';
import {
  cellValues,
  COUNTRY_COLUMNS,
  describeColumns,
  FILE_COLUMNS,
  findMetadataFile,
  LABEL_COLUMNS,
  matchMetadata,
  parseMetadataFile,
  recognised,
  REGION_COLUMNS,
} from '../../src/data/metadata';

const DOLLAR_STREET = [
  'id,imageRelPath,country.name,region.id,income,topics,imagenet_sysnet_id',
  `a1,assets/a1/x.jpg,India,asia,120.5,"['kitchen', 'stove']","['n03255030', 'n04254120']"`,
  `a2,assets/a2/y.jpg,Burundi,africa,27,"['toilet']",['n04447861']`,
  `a3,assets/a3/z.jpg,United States,the americas,3200,['bed'],n02818832`,
  `a4,assets/a4/gone.jpg,China,asia,800,[],n03255030`,
].join('\n');

describe('parsing', () => {
  test("Dollar Street's columns are recognised without configuration", () => {
    const t = parseMetadataFile('dollarstreet.csv', DOLLAR_STREET);
    expect(t.fileColumn).toBe('imageRelPath');
    expect(recognised(t.columns, LABEL_COLUMNS)).toBe('imagenet_sysnet_id');
    expect(recognised(t.columns, COUNTRY_COLUMNS)).toBe('country.name');
    expect(recognised(t.columns, REGION_COLUMNS)).toBe('region.id');
    const { columns, ignored } = describeColumns(t);
    const kind = Object.fromEntries(columns.map((c) => [c.name, c.kind]));
    expect(kind).toEqual({
      id: 'category', // four distinct ids are kept (only long all-distinct columns are ignored)
      'country.name': 'category',
      'region.id': 'category',
      income: 'number',
      topics: 'list',
      imagenet_sysnet_id: 'list',
    });
    expect(ignored).toEqual([]);
  });
  test("GeoDE's columns (TSV)", () => {
    const t = parseMetadataFile(
      'index.tsv',
      'file_path\tobject\tregion\tip_country\nbag/1.jpg\tbag\tAfrica\tNigeria\n',
    );
    expect(t.fileColumn).toBe('file_path');
    expect(recognised(t.columns, LABEL_COLUMNS)).toBe('object');
    expect(recognised(t.columns, COUNTRY_COLUMNS)).toBe('ip_country');
    expect(recognised(t.columns, REGION_COLUMNS)).toBe('region');
  });
  test('JSON list, JSON columns and JSONL give the same rows', () => {
    const rows = [
      { file: 'a.jpg', income: 10, tags: ['x', 'y'] },
      { file: 'b.jpg', income: 20, tags: [] },
    ];
    const a = parseMetadataFile('m.json', JSON.stringify(rows));
    const b = parseMetadataFile(
      'm.json',
      JSON.stringify({ file: ['a.jpg', 'b.jpg'], income: [10, 20], tags: [['x', 'y'], []] }),
    );
    const c = parseMetadataFile('m.jsonl', rows.map((r) => JSON.stringify(r)).join('\n'));
    expect(a.rows).toEqual(b.rows);
    expect(c.rows).toEqual(a.rows);
    expect(describeColumns(a).columns.map((col) => col.kind)).toEqual(['number', 'list']);
  });
  test('list cells: JSON, Python repr and pipes', () => {
    expect(cellValues('["a", "b"]')).toEqual(['a', 'b']);
    expect(cellValues("['a', 'b']")).toEqual(['a', 'b']);
    expect(cellValues('a | b')).toEqual(['a', 'b']);
    expect(cellValues('[]')).toEqual([]);
    expect(cellValues('')).toEqual([]);
    expect(cellValues(3)).toEqual(['3']);
  });
  test('errors name the file and the problem', () => {
    expect(() => parseMetadataFile('meta.csv', 'name,income\na,1\n')).toThrow(/meta\.csv: no file column/);
    expect(() => parseMetadataFile('meta.csv', 'file,income\na.jpg,1,2\n')).toThrow(/meta\.csv, line 2: 3 cells/);
    expect(() => parseMetadataFile('meta.jsonl', '{"file":"a"}\n{oops\n')).toThrow(
      /meta\.jsonl, line 2: not valid JSON/,
    );
    expect(() => parseMetadataFile('meta.json', '{"file": 3}')).toThrow(/meta\.json: expected a list of objects/);
    expect(() => parseMetadataFile('meta.xlsx', '')).toThrow(/meta\.xlsx: metadata must be/);
    expect(FILE_COLUMNS[0]).toBe('imagerelpath');
  });
});

describe('finding and matching', () => {
  test('a metadata file beside the images is found; caption and class files are not taken', () => {
    const paths = ['dev/cat/1.jpg', 'dev/captions.csv', 'dev/classes.json', 'dev/sub/metadata.csv', 'dev/metadata.csv'];
    expect(findMetadataFile(paths)).toBe(4);
    expect(findMetadataFile(['dev/cat/1.jpg', 'dev/notes.csv'])).toBeNull();
  });
  test('rows match images exactly or by a unique ending; missing, unlisted and ambiguous names are listed', () => {
    const t = parseMetadataFile(
      'm.csv',
      ['file,g', 'cat/1.jpg,a', '2.jpg,b', './dog/3.jpg,c', 'gone.jpg,d', 'x.jpg,e', 'cat/1.jpg,f'].join('\n'),
    );
    const m = matchMetadata(t, ['cat/1.jpg', 'cat/2.jpg', 'dog/3.jpg', 'dog/4.jpg', 'cat/x.jpg', 'dog/x.jpg']);
    expect([...m.rowOf]).toEqual([0, 1, 2, -1, -1, -1]);
    expect(m.missing).toEqual(['gone.jpg']);
    expect(m.ambiguous).toEqual(['x.jpg']);
    expect(m.duplicated).toEqual(['cat/1.jpg']);
    expect(m.unlisted).toEqual(['dog/4.jpg', 'cat/x.jpg', 'dog/x.jpg']);
  });
});

describe('columns left out', () => {
  test('free text and ids (a different value on most rows) make no attribute; repeated text does', () => {
    const lines = ['file,caption,site'];
    for (let i = 0; i < 30; i++) lines.push(`${i}.jpg,a photo number ${i},site${i % 3}`);
    const { columns, ignored } = describeColumns(parseMetadataFile('m.csv', lines.join('\n')));
    expect(ignored).toEqual(['caption']);
    expect(columns).toEqual([{ name: 'site', kind: 'category', distinct: 3 }]);
  });
});
