import { temporal } from '@temporalio/proto';

const E = temporal.api.enums.v1.EventType;

/**
 * Billable Temporal actions found in one workflow history, by Temporal Cloud's published rules
 * (https://docs.temporal.io/cloud/actions): the start, every activity attempt, every timer — `condition(fn, timeout)`
 * included —, signal, update, search-attribute upsert, child workflow start and external signal; the local
 * activities of one workflow task as one action; an upsert of `TemporalChangeVersion` alone (the one Temporal's core
 * adds for a patch marker) exempt. Queries are not in a history and are counted from the client side; rejected
 * updates are not in it either.
 */
export interface ActionCount {
  start: number;
  /** Attempts, not activities: a retried activity's started event carries its attempt number. */
  activityAttempts: number;
  timers: number;
  signals: number;
  updates: number;
  /** The workflow's own upserts (billed). */
  upserts: number;
  /**
   * Not in `upserts` nor in `total`: the upserts Temporal's core adds for a patch marker (`TemporalChangeVersion`, one
   * per patch a run takes), exempt from action counting. Events in the history, gone once the patch is retired
   * (docs/CHANGING-WORKFLOWS.md).
   */
  patchUpserts: number;
  /**
   * Child workflow starts, external signals and cancels, workflow property changes, and local activities: one per
   * workflow task that recorded any local-activity marker, however many it recorded (patch markers are not billed).
   */
  other: number;
  total: number;
}

export const emptyCount = (): ActionCount => ({
  start: 0,
  activityAttempts: 0,
  timers: 0,
  signals: 0,
  updates: 0,
  upserts: 0,
  patchUpserts: 0,
  other: 0,
  total: 0,
});

/** An event's type, whether the history is a proto `History` (a number) or its JSON form (the enum's name). */
const eventTypeOf = (
  event: temporal.api.history.v1.IHistoryEvent,
): temporal.api.enums.v1.EventType | null | undefined =>
  typeof event.eventType === 'string' ? E[event.eventType as keyof typeof E] : event.eventType;

/** Counts the billable actions of one history (a proto `History` or its JSON form's `events`). */
export function countActions(history: temporal.api.history.v1.IHistory): ActionCount {
  const c = emptyCount();
  const activities = new Map<string, number>();
  const localActivityTasks = new Set<string>();
  for (const event of history.events ?? []) {
    const type = eventTypeOf(event);
    switch (type) {
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        c.start++;
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        activities.set(String(event.eventId), 1);
        break;
      case E.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attrs = event.activityTaskStartedEventAttributes;
        activities.set(String(attrs?.scheduledEventId), Math.max(1, Number(attrs?.attempt ?? 1)));
        break;
      }
      case E.EVENT_TYPE_TIMER_STARTED:
        c.timers++;
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        c.signals++;
        break;
      case E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        c.updates++;
        break;
      case E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {};
        const keys = Object.keys(fields);
        if (keys.length === 1 && keys[0] === 'TemporalChangeVersion') c.patchUpserts++;
        else c.upserts++;
        break;
      }
      case E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
      case E.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
      case E.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
      case E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
        c.other++;
        break;
      case E.EVENT_TYPE_MARKER_RECORDED: {
        // Local activities are billed, all of one workflow task's as one action; patch (version) markers are not.
        const attrs = event.markerRecordedEventAttributes;
        if (/local_?activity/i.test(attrs?.markerName ?? '')) {
          localActivityTasks.add(String(attrs?.workflowTaskCompletedEventId ?? event.eventId));
        }
        break;
      }
    }
  }
  c.activityAttempts = [...activities.values()].reduce((a, b) => a + b, 0);
  c.other += localActivityTasks.size;
  c.total = c.start + c.activityAttempts + c.timers + c.signals + c.updates + c.upserts + c.other;
  return c;
}

/** Field-wise mean of several rows of counts (one decimal), every field of `empty`; zeros for no rows. */
function fieldMean<T extends Record<keyof T, number>>(rows: T[], empty: T): T {
  const out = { ...empty };
  for (const key of Object.keys(out) as (keyof T)[]) {
    const sum = rows.reduce((a, c) => a + c[key], 0);
    out[key] = (rows.length ? Math.round((sum / rows.length) * 10) / 10 : 0) as T[keyof T];
  }
  return out;
}

/** Field-wise mean of several counts (one decimal). */
export const meanCount = (counts: ActionCount[]): ActionCount => fieldMean(counts, emptyCount());

/** What a run's history holds beyond its actions: its events, the signals it took, the workflow tasks the server failed. */
export interface HistoryShape {
  events: number;
  signals: number;
  failedWorkflowTasks: number;
}

const emptyShape = (): HistoryShape => ({ events: 0, signals: 0, failedWorkflowTasks: 0 });

/** The shape of one history (a proto `History` or its JSON form's `events`). */
export function historyShape(history: temporal.api.history.v1.IHistory): HistoryShape {
  const shape = emptyShape();
  for (const event of history.events ?? []) {
    const type = eventTypeOf(event);
    shape.events++;
    if (type === E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) shape.signals++;
    if (type === E.EVENT_TYPE_WORKFLOW_TASK_FAILED) shape.failedWorkflowTasks++;
  }
  return shape;
}

/** Field-wise mean of several history shapes (one decimal). */
export const meanShape = (shapes: HistoryShape[]): HistoryShape => fieldMean(shapes, emptyShape());
