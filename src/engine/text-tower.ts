/**
 * The text tower's session and its inputs. On WASM the session is made at the first text after the
 * load, not kept from the load: an image run never needs it, and onnxruntime-web's heap, which never
 * shrinks, would hold its weights beside the vision tower's through every run (issue 12).
 */
import type { ClipTokenizer } from '../core/tokenize';
import { WorkbenchError } from '../data/errors';
import type { ModelFiles } from '../data/model-fetch';
import type { Backend, BackendProbe, EngineSession, HostTensor } from './ort-engine';
import { openTower, pickOutput, type TowerRead } from './tower-files';

export class TextTower {
  private session: EngineSession | null;
  private loading: Promise<EngineSession> | null = null;
  /** Sessions made after the load, with the milliseconds each took (read, check, create). */
  readonly loadMs: number[] = [];
  /** How each read its file: split as it was read (`pieces`), or whole (`file`; see openTower). */
  readonly loadedFrom: TowerRead[] = [];

  /**
   * `hash`: the file hash the load computed (tower file and shards), to check the file read again is the
   * same. `session`: the load's session when it is kept (WebGPU), else null.
   */
  constructor(
    private readonly files: ModelFiles,
    private readonly path: string,
    private readonly hash: string,
    private readonly runtime: () => { backend: Backend; probe: BackendProbe },
    session: EngineSession | null,
  ) {
    this.session = session;
  }

  get resident(): boolean {
    return this.session !== null;
  }

  /**
   * The session, made now from the model's files (the picked folder or the download cache) when there is
   * none. A file that is not the one the load read is refused: the text fingerprint would be wrong.
   */
  get(): Promise<EngineSession> {
    if (this.session) return Promise.resolve(this.session);
    this.loading ??= (async () => {
      const t0 = performance.now();
      const { backend, probe } = this.runtime();
      const opened = await openTower(this.files, this.path, this.hash, backend, probe, () => this.changed());
      this.session = opened.session;
      this.loadMs.push(performance.now() - t0);
      this.loadedFrom.push(opened.from);
      return opened.session;
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private changed(): WorkbenchError {
    return new WorkbenchError(
      'model-file-corrupt',
      `${this.path} is not the file the model was loaded with (it changed since); load the model again.`,
      this.path,
    );
  }

  /**
   * Close the session (the WASM rebuild after a GPU loss): the next text makes one on the backend the model
   * now reports, from the file.
   */
  async drop(): Promise<void> {
    await this.loading?.catch(() => undefined);
    const s = this.session;
    this.session = null;
    s?.dispose().catch(() => undefined);
  }

  async dispose(): Promise<void> {
    await this.loading?.catch(() => undefined);
    const s = this.session;
    this.session = null;
    await s?.dispose();
  }
}

/** A text batch's feeds, by the graph's own input names. */
export function textFeeds(
  session: EngineSession,
  tokenizer: ClipTokenizer,
  texts: string[],
): Record<string, HostTensor> {
  const { ids, seqLen, lengths } = tokenizer.encodeBatch(texts);
  const feeds: Record<string, HostTensor> = {};
  const dims = [texts.length, seqLen];
  const names = session.inputNames;
  const idName = names.includes('input_ids') ? 'input_ids' : names[0]!;
  feeds[idName] =
    session.inputTypes[idName] === 'int32'
      ? { type: 'int32', data: Int32Array.from(ids, Number), dims }
      : { type: 'int64', data: ids, dims };
  // Only the inputs the graph declares: SigLIP's text tower has no attention_mask, BERT-style towers
  // (Jina CLIP) also take token_type_ids (all 0 for a single sentence).
  if (names.includes('attention_mask')) {
    const mask = new BigInt64Array(ids.length);
    lengths.forEach((n, i) => mask.fill(1n, i * seqLen, i * seqLen + Math.min(n, seqLen)));
    feeds.attention_mask = { type: 'int64', data: mask, dims };
  }
  if (names.includes('token_type_ids'))
    feeds.token_type_ids = { type: 'int64', data: new BigInt64Array(ids.length), dims };
  return feeds;
}

/** The text tower's embedding size, from one prompt run on a session about to be closed. */
export async function probeTextDim(
  session: EngineSession,
  tokenizer: ClipTokenizer,
  outputs: readonly string[],
  file: string,
): Promise<number> {
  const out = pickOutput(outputs, session.outputNames, file);
  const t = (await session.run(textFeeds(session, tokenizer, ['a photo of a cat.']), [out]))[out]!;
  return t.dims[t.dims.length - 1]!;
}
