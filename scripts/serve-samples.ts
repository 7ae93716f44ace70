/** Serves the shared COCO copies in the sample manifest's layout, for offline demos and screenshots. */
import path from 'node:path';
import { startHubServer } from '../tests/helpers/hub-server';
import { MODELS, DATASETS } from '../tests/helpers/paths';

const s = await startHubServer(MODELS, path.join(DATASETS, 'coco-mini-captions/images'), (p) => path.basename(p));
console.log(s.url);
