/**
 * A task boundary: resolves from a new task, so what was queued meanwhile (input, paint, a worker's
 * message) runs first. Work over every image of a large folder is split by it into tasks well under 50 ms.
 */
export function nextTask(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}
