import { setFlagsFromString } from 'node:v8';

/** The V8 heap of the worker's workflow thread by default, in MiB: 10 000 open verifications in < 1 GiB of RSS. */
export const DEFAULT_WORKFLOW_HEAP_MIB = 768;

/** Whether the process was started with a heap size of its own (`--max-old-space-size` in its argv or NODE_OPTIONS). */
export function heapSizeGiven(execArgv: readonly string[], nodeOptions = ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((a) => /^--max[-_]old[-_]space[-_]size(=|$)/.test(a));
}

/**
 * The workflow cache the SDK derives for a workflow heap of `heapMiB` (its own rule with a reused V8 context: 600
 * workflows per GiB above 200 MiB). Cached workflows are what fills the heap; evicted ones are replayed on their next
 * event.
 */
export function cacheForHeap(heapMiB: number): number {
  return Math.max(Math.floor(((heapMiB - 200) * 600) / 1024), 10);
}

/**
 * Caps V8's old space at `heapMiB` for the isolates created from now on — the SDK's workflow thread, which
 * `Worker.create` starts — so the garbage of evicted and replayed workflows is collected instead of growing the
 * process to several GiB (measured: 10 000 open verifications peak at 3.5 GiB of RSS without a cap, 0.7 GiB with 768
 * MiB; docs/PERFORMANCE.md). Call it before creating the worker. Answers the cache size for that heap, or undefined when
 * it did nothing: `heapMiB` 0, or a heap size the process was started with (that one stands, and the SDK sizes its
 * cache from it).
 */
export function capWorkflowHeap(
  heapMiB: number,
  process: { execArgv: readonly string[]; nodeOptions?: string },
): { heapMiB: number; maxCachedWorkflows: number } | undefined {
  if (heapMiB === 0 || heapSizeGiven(process.execArgv, process.nodeOptions)) return undefined;
  setFlagsFromString(`--max-old-space-size=${heapMiB}`);
  return { heapMiB, maxCachedWorkflows: cacheForHeap(heapMiB) };
}
