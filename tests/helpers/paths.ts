import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The read-only shared folder beside the checkout (models, datasets); SHARED_DIR overrides. */
export const SHARED = path.resolve(process.env.SHARED_DIR ?? path.join(REPO, '../shared'));
export const MODELS = path.join(SHARED, 'models');
export const DATASETS = path.join(SHARED, 'datasets');
