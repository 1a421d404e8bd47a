/**
 * Outbound events of a verification: `verificationEvents` (called by each verification workflow) and `eventDelivery`
 * (the workflow that delivers them). Deterministic and Node-free (workflow bundle).
 *
 * A verification hands each event to a delivery workflow of its own, started as an abandoned child with the first
 * event and signalled the others, so delivering — retries for days, an endpoint that answers 500 or is gone — never
 * blocks, slows or fails the verification. Without the `events` option in its input (the client has no events
 * endpoint) nothing is started or signalled: the verification's history has not one command more (with it, the
 * `outbound-events` patch marker comes first).
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  ParentClosePolicy,
  patched,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createEventActivities } from '../activities/events';
import { activitiesWithSummaries, failureType, parseInput } from './common';
import { FailureType, formatIssues, isTerminal, SA_CLIENT, type VerificationStatus } from './contract/common';
import {
  eventDeliveryContract,
  eventStatusOf,
  type EventData,
  type EventDeliveryInput,
  type EventDeliveryState,
  type EventField,
  type EventRecord,
  type EventsOption,
  type EventStatus,
  type EventSubject,
  type VerificationEvent,
} from './contract/events';

const { event: eventSignal, getState, redeliver } = eventDeliveryContract.messages;

/** What the events of a verification read from its state (every kind's state has these, some optional). */
export interface EventView {
  status: VerificationStatus;
  reason?: string;
  channel?: string;
  channelIndex?: number;
  channels?: readonly { provider?: string }[];
  startedAt?: string;
  updatedAt?: string;
  verifiedOutputs?: unknown;
}

/** The events of one verification run; `end()` resolves once its last event was handed over (await it before returning). */
export interface VerificationEvents {
  end(): Promise<void>;
}

const OFF: VerificationEvents = { end: () => Promise.resolve() };

/** The provider of the kinds that have one. */
const KIND_PROVIDER: Record<string, string> = { push: 'twilio', identity: 'stripe' };

/**
 * Announces a verification's `created`, every entry into `action_pending`, and its end, as events of `subject` —
 * when its input carries the `events` option and a client (else it does nothing at all). `view` is read whenever the
 * workflow wakes; `optIn` gives the fields a client may opt into (`to`, `verifiedOutputs`), included only when
 * listed in `events.fields`.
 */
export function verificationEvents(
  subject: EventSubject,
  kind: string,
  input: { events?: EventsOption; client?: string; reference?: string },
  view: () => EventView,
  optIn: (v: EventView) => Partial<Record<EventField, unknown>> = () => ({}),
  /** The run took `RELEASE_PATCH` (common.ts), which stands for `outbound-events`. */
  release = false,
): VerificationEvents {
  // Runs recorded before events existed never had the option; the patch marks those that do.
  if (!input.events || !input.client || !(release || patched('outbound-events'))) return OFF;
  const info = workflowInfo();
  const client = input.client;
  const fields = input.events.fields ?? [];
  const runTag = info.firstExecutionRunId.replace(/-/g, '').slice(0, 8);
  const deliveryId = eventDeliveryContract.id(info.workflowId);
  const queue: VerificationEvent[] = [];
  let count = 0;
  let watching = true;

  const make = (status: EventStatus, v: EventView): VerificationEvent => {
    const extra = optIn(v);
    const data: EventData = {
      verificationId: info.workflowId,
      kind,
      status: status === 'created' ? v.status : status,
      reason: v.reason,
      channel: v.channel as EventData['channel'],
      provider: (v.channels?.[v.channelIndex ?? 0]?.provider ?? KIND_PROVIDER[kind]) as EventData['provider'],
      reference: input.reference,
      client,
      startedAt: v.startedAt,
      updatedAt: v.updatedAt,
    };
    for (const f of fields) if (extra[f] !== undefined) (data as Record<string, unknown>)[f] = extra[f];
    return {
      id: eventDeliveryContract.helpers.eventId(info.workflowId, runTag, ++count),
      type: `${subject}.${status}`,
      timestamp: new Date(Date.now()).toISOString(),
      data: JSON.parse(JSON.stringify(data)) as EventData,
    };
  };

  // Notes each status worth an event as the run reaches it.
  const watch = async (): Promise<void> => {
    let last = view().status;
    queue.push(make('created', view()));
    while (!isTerminal(last)) {
      await condition(() => view().status !== last);
      last = view().status;
      const status = eventStatusOf(last);
      if (status) queue.push(make(status, view()));
    }
  };

  // Hands the events over in order: the first starts the delivery workflow, the others are signals to it.
  const handOver = async (): Promise<void> => {
    let started = false;
    for (;;) {
      await condition(() => queue.length > 0 || !watching);
      const next = queue.shift();
      if (!next) return;
      try {
        if (!started)
          started = await startDelivery(deliveryId, { verificationId: info.workflowId, client, first: next });
        else await getExternalWorkflowHandle(deliveryId).signal(eventSignal, next);
        started = true;
      } catch (err) {
        // Never the verification's problem: the event is listed as lost in the log, the run goes on.
        log.warn('event not handed to its delivery workflow', { eventId: next.id, error: String(err) });
      }
    }
  };

  const done = CancellationScope.nonCancellable(() =>
    Promise.all([
      watch().finally(() => {
        watching = false;
      }),
      handOver(),
    ]).then(() => undefined),
  );
  return { end: () => done };
}

/**
 * Starts the delivery workflow with the first event; when one of that ID is still running (an earlier run of the same
 * verification ID, taking redeliveries), the event is signalled to it instead.
 */
async function startDelivery(id: string, input: EventDeliveryInput): Promise<boolean> {
  try {
    await startChild(eventDelivery, {
      workflowId: id,
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [{ key: SA_CLIENT, value: input.client }],
      staticSummary: `Events of ${input.verificationId}`,
      // A backstop for a verification that never sends its last event; the workflow normally ends by itself.
      workflowRunTimeout: '60 days',
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    await getExternalWorkflowHandle(id).signal(eventSignal, input.first);
  }
  return true;
}

const { deliverySeconds, initialIntervalSeconds, backoffCoefficient, maximumIntervalSeconds, lingerSeconds } =
  eventDeliveryContract.defaults;
/** Events kept per delivery workflow; a verification has a handful. */
const MAX_EVENTS = 200;

const act = activitiesWithSummaries<ReturnType<typeof createEventActivities>>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: `${deliverySeconds}s`,
  retry: {
    initialInterval: `${initialIntervalSeconds}s`,
    backoffCoefficient,
    maximumInterval: `${maximumIntervalSeconds}s`,
    maximumAttempts: Infinity,
  },
});

/**
 * Delivers the events of one verification to its API client's events endpoint, one at a time and in order: each is
 * tried by the `deliverEvent` activity (Standard Webhooks signature, the same `webhook-id` on every try) with
 * exponential backoff for up to 3 days. A 2xx delivers it; a 410 stops every delivery (the endpoint is gone) until a
 * redelivery is asked for; another 4xx a few times parks it. Its state lists each event with its delivery status
 * (`GET /v1/events`); `redeliver` queues one again. Ends once its verification's last event settled and no
 * redelivery came for `lingerSeconds`.
 */
export async function eventDelivery(rawInput: EventDeliveryInput): Promise<EventDeliveryState> {
  const input = parseInput(eventDeliveryContract.schemas().input, rawInput, 'eventDelivery');
  const state: EventDeliveryState = {
    id: workflowInfo().workflowId,
    verificationId: input.verificationId,
    client: input.client,
    events: [],
  };
  const queue: EventRecord[] = [];
  let gone = false;
  let ended = false;
  const add = (e: VerificationEvent): void => {
    if (state.events.some((r) => r.id === e.id)) return;
    if (state.events.length >= MAX_EVENTS) {
      log.warn('event dropped: too many events for one verification', { eventId: e.id });
      return;
    }
    const record: EventRecord = { id: e.id, type: e.type, status: 'pending', attempts: 0, redeliveries: 0, event: e };
    state.events.push(record);
    queue.push(record);
    if (/\.(completed|failed|expired|cancelled)$/.test(e.type)) ended = true;
  };
  add(input.first);

  setHandler(getState, () => state);
  setHandler(eventSignal, (raw: VerificationEvent) => {
    const parsed = eventDeliveryContract.schemas().event.safeParse(raw);
    if (parsed.success) add(parsed.data);
    else log.warn('malformed event dropped', { issues: formatIssues(parsed.error) });
  });
  setHandler(
    redeliver,
    ({ eventId }) => {
      const record = state.events.find((r) => r.id === eventId)!;
      record.status = 'pending';
      record.attempts = 0;
      record.redeliveries++;
      gone = false;
      if (!queue.includes(record)) queue.push(record);
      return { ...record };
    },
    {
      validator: (req) => {
        const r = eventDeliveryContract.schemas().redeliverInput.safeParse(req);
        if (!r.success) throw new Error(formatIssues(r.error));
        if (!state.events.some((e) => e.id === r.data.eventId)) {
          throw ApplicationFailure.create({
            type: FailureType.EventNotFound,
            message: `event ${r.data.eventId} not found`,
            nonRetryable: true,
          });
        }
      },
    },
  );

  for (;;) {
    const next = queue.shift();
    if (next) {
      await deliver(next, input.client, gone).then((stop) => {
        if (stop) gone = true;
      });
      continue;
    }
    // Until the last event came, wait for more (no timer); then take redeliveries for a while.
    if (!ended) await condition(() => queue.length > 0 || ended);
    else if (!(await condition(() => queue.length > 0, lingerSeconds * 1000))) break;
  }
  return state;
}

/** Tries one event until it settles; true when the endpoint answered 410 (stop delivering). */
async function deliver(record: EventRecord, client: string, gone: boolean): Promise<boolean> {
  if (gone) {
    record.status = 'gone';
    record.lastError = 'not sent: the endpoint answered 410 to an earlier event';
    return true;
  }
  try {
    const r = await act('deliverEvent', `deliver ${record.type}`, { client, event: record.event });
    record.status = 'delivered';
    record.attempts = r.attempt;
    record.lastStatusCode = r.statusCode;
    record.lastError = undefined;
    record.deliveredAt = new Date(Date.now()).toISOString();
    return false;
  } catch (err) {
    const type = failureType(err);
    const details = detailsOf(err);
    record.attempts = details.attempt ?? record.attempts;
    record.lastStatusCode = details.statusCode;
    if (type === FailureType.EndpointGone) {
      record.status = 'gone';
      record.lastError = 'the endpoint answered 410 Gone: deliveries stopped';
      return true;
    }
    record.status = 'parked';
    record.lastError =
      type === FailureType.EventRejected
        ? `the endpoint refused it with ${details.statusCode ?? 'a 4xx'} ${details.attempt ?? 'several'} times`
        : type === FailureType.EventsNotConfigured
          ? 'the client has no events endpoint configured on the worker'
          : `not delivered within ${deliverySeconds} s`;
    return false;
  }
}

/** The `{statusCode, attempt}` an activity failure carries in its details. */
function detailsOf(err: unknown): { statusCode?: number; attempt?: number } {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if (e instanceof ApplicationFailure && e.details?.length) return e.details[0] as { statusCode?: number };
  }
  return {};
}
