/**
 * Errors that cross the worker boundary. Comlink keeps only `name`, `message` and `stack`, so callers
 * match on `name` and the `code` prefix of the message, never on `instanceof`.
 */

export type WorkbenchErrorCode =
  | 'model-file-missing'
  | 'model-file-corrupt'
  | 'model-mismatch'
  | 'network'
  | 'image-decode'
  | 'bad-input'
  | 'backend-unavailable'
  /** The GPU device went with a batch in flight and this worker's runtime runs nothing more: a fresh worker is needed. */
  | 'gpu-lost'
  | 'cancelled'
  | 'internal';

export class WorkbenchError extends Error {
  override name = 'WorkbenchError';
  readonly code: WorkbenchErrorCode;
  /** The file the problem is about, relative to the model or data folder, when there is one. */
  readonly file: string | null;

  constructor(code: WorkbenchErrorCode, message: string, file: string | null = null) {
    // The code travels inside the message as "[code] …" because comlink drops extra fields.
    super(`[${code}] ${message}`);
    this.code = code;
    this.file = file;
  }
}

/** Split a message made by WorkbenchError back into code and text (after a worker round trip). */
export function describeError(err: unknown): { code: WorkbenchErrorCode; message: string } {
  const raw = err instanceof Error ? err.message : String(err);
  if (err instanceof Error && err.name === 'AbortError') return { code: 'cancelled', message: 'Cancelled.' };
  const m = /^\[([a-z-]+)\] ([\s\S]*)$/.exec(raw);
  if (m) return { code: m[1] as WorkbenchErrorCode, message: m[2] as string };
  return { code: 'internal', message: raw };
}

export function cancelledError(): WorkbenchError {
  return new WorkbenchError('cancelled', 'Cancelled.');
}
