/**
 * The text tower of a model on WASM, in a worker of its own (see src/engine/text-tower.ts): its runtime's
 * heap goes with the worker when the model worker closes it for an image run.
 */
import * as Comlink from 'comlink';
import { EngineSession, probeBackends, runtimeBusyMs, setWasmThreads, type HostTensor } from '../src/engine/ort-engine';
import { fetchTower, releaseTower, type TowerFiles } from '../src/engine/tower-files';
import { ModelFiles } from '../src/data/model-fetch';
import type { ModelSource } from '../src/data/model-files';
import '../src/data/error-transfer';

let session: EngineSession | null = null;

const api = {
  /**
   * Load the tower from `files` when given (moved here by the model's load), else read it again from
   * `source` (Cache Storage or the picked folder: no download). On one thread: see text-tower.ts.
   */
  async load(source: ModelSource, path: string, files?: TowerFiles) {
    setWasmThreads(1);
    const f = files ?? (await fetchTower(new ModelFiles(source), path, () => undefined));
    session = await EngineSession.create(f.bytes, 'wasm', await probeBackends(), f.path, f.externalData);
    releaseTower(f);
    return { inputNames: session.inputNames, outputNames: session.outputNames, inputTypes: session.inputTypes };
  },

  async run(feeds: Record<string, HostTensor>, outputs: string[]) {
    if (!session) throw new Error('The text tower is not loaded.');
    const out = await session.run(feeds, outputs);
    return Comlink.transfer(
      out,
      Object.values(out).map((t) => t.data.buffer as ArrayBuffer),
    );
  },

  busyMs(): number {
    return Object.values(runtimeBusyMs()).reduce((a, b) => a + b, 0);
  },
};

export type TextTowerWorkerApi = typeof api;

Comlink.expose(api);
