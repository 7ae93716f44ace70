/**
 * Errors keep their `code` and `file` across worker boundaries. Comlink's own "throw" handler sends
 * only name, message and stack (so a WorkbenchError arrived as a plain Error); this handler, registered
 * by a side-effect import in every worker and on the main thread, adds the two fields and rebuilds the
 * error with them on the other side.
 */
import * as Comlink from 'comlink';

interface SerializedError {
  isError: boolean;
  value: unknown;
}

interface ErrorFields {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  file?: string | null;
}

const builtin = Comlink.transferHandlers.get('throw')!;

/** The plain fields of an error (what crosses the boundary). */
export function errorFields(e: Error): ErrorFields {
  const x = e as Error & { code?: unknown; file?: unknown };
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    ...(typeof x.code === 'string' ? { code: x.code } : {}),
    ...(typeof x.file === 'string' || x.file === null ? { file: x.file as string | null } : {}),
  };
}

/** An Error carrying `fields` (name, code and file included), as thrown on the receiving side. */
export function errorFrom(fields: ErrorFields): Error {
  return Object.assign(new Error(fields.message), fields);
}

Comlink.transferHandlers.set('throw', {
  canHandle: builtin.canHandle,
  serialize(thrown: unknown): [unknown, Transferable[]] {
    const value = (thrown as { value: unknown }).value;
    if (value instanceof Error && 'code' in value) return [{ isError: true, value: errorFields(value) }, []];
    return builtin.serialize(thrown);
  },
  deserialize(serialized: unknown): unknown {
    const s = serialized as SerializedError;
    if (s.isError && typeof s.value === 'object' && s.value !== null && 'code' in s.value) {
      throw errorFrom(s.value as ErrorFields);
    }
    return builtin.deserialize(serialized);
  },
});
