/** Temporal calls the API made, by kind: queries are billable actions that never show in a history. */
export interface ClientCalls {
  start: number;
  signal: number;
  query: number;
  update: number;
  signalWithStart: number;
  updateWithStart: number;
  /** Queries by workflow ID: a scenario is charged only for the queries to its own runs (not, e.g., an enrollment's). */
  queriesByWorkflow: Record<string, number>;
}

/** No call yet. */
export const noClientCalls = (): ClientCalls => ({
  start: 0,
  signal: 0,
  query: 0,
  update: 0,
  signalWithStart: 0,
  updateWithStart: 0,
  queriesByWorkflow: {},
});

/** Adds `calls` into `sum` (the API replicas of a cluster, summed). */
export function addClientCalls(sum: ClientCalls, calls: ClientCalls): void {
  sum.start += calls.start;
  sum.signal += calls.signal;
  sum.query += calls.query;
  sum.update += calls.update;
  sum.signalWithStart += calls.signalWithStart;
  sum.updateWithStart += calls.updateWithStart;
  for (const [id, n] of Object.entries(calls.queriesByWorkflow)) {
    sum.queriesByWorkflow[id] = (sum.queriesByWorkflow[id] ?? 0) + n;
  }
}
