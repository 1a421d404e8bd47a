/** One event of bench/lib/worker-trace.ts: ms on the traced process's clock, and what happened. */
export type TraceEvent = [number, string];

/** The file a traced worker writes in its run directory (`DATA_DIR`), read by bench/timeline.ts. */
export const WORKER_TRACE_FILE = 'worker-trace.json';
