/**
 * Builds public/frequencies/ from Udandarao et al. 2024's published search counts (MIT-licensed data,
 * ../shared/datasets/concept-frequency-udandarao2024): one JSON per dataset the app knows class
 * names for, with every pretraining set and the text-search ("lemmatized") and image-text
 * ("integrated", RAM++ threshold 0.7) methods. Run: npx tsx scripts/ship-frequencies.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { SHARED, REPO } from '../tests/helpers/paths';

const SRC = path.join(SHARED, 'datasets/concept-frequency-udandarao2024');
const OUT = path.join(REPO, 'public/frequencies');
const DATASETS = ['cifar10', 'cifar100', 'imagenet', 'oxfordpets'];
const PRETRAIN: Record<string, string> = {
  cc3m: 'CC-3M',
  cc12m: 'CC-12M',
  yfcc15m: 'YFCC-15M',
  laion400m: 'LAION-400M',
  synthci30m: 'SynthCI-30M',
};
const METHODS: Record<string, string> = {
  lemmatized: 'captions, lemmatized text search',
  'integrated_tlemmatized_i0.7': 'image-text: concept in the caption and tagged in the image (RAM++ ≥ 0.7)',
};

fs.mkdirSync(OUT, { recursive: true });
const index: { dataset: string; file: string; tables: string[] }[] = [];
for (const dataset of DATASETS) {
  const tables: { pretrain: string; pretrainLabel: string; method: string; methodLabel: string; counts: unknown }[] =
    [];
  for (const [pretrain, pretrainLabel] of Object.entries(PRETRAIN)) {
    for (const [method, methodLabel] of Object.entries(METHODS)) {
      const f = path.join(SRC, 'search_counts', `${dataset}_${pretrain}_${method}_search_counts.json`);
      if (!fs.existsSync(f)) continue;
      tables.push({ pretrain, pretrainLabel, method, methodLabel, counts: JSON.parse(fs.readFileSync(f, 'utf8')) });
    }
  }
  const file = `${dataset}.json`;
  const doc = {
    dataset,
    source:
      'Udandarao et al. 2024, “No “Zero-Shot” Without Exponential Data” (arXiv:2404.04125), search_counts from ' +
      'github.com/bethgelab/frequency_determines_performance @ 11ef009, MIT License',
    tables,
  };
  fs.writeFileSync(path.join(OUT, file), JSON.stringify(doc));
  index.push({ dataset, file, tables: tables.map((t) => `${t.pretrain}/${t.method}`) });
}
fs.writeFileSync(path.join(OUT, 'index.json'), JSON.stringify({ datasets: index }, null, 1) + '\n');
fs.copyFileSync(path.join(SRC, 'LICENSE.upstream-MIT.txt'), path.join(OUT, 'LICENSE-udandarao2024-MIT.txt'));
console.log(index.map((d) => `${d.dataset}: ${d.tables.length} tables`).join('\n'));
