/**
 * The contract of `eventDelivery`: the outbound events of one verification (`verification.created`, `.action_pending`,
 * `.completed`, `.failed`, `.expired`, `.cancelled`; `onboarding.*` for onboardings), delivered in order to the API
 * client's events endpoint, signed with the Standard Webhooks scheme. The verification starts it as an abandoned child
 * with its first event and signals it the others: a delivery never blocks or fails the verification. Deterministic
 * and Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import { CHANNELS, PROVIDERS, TERMINAL_STATUSES, type VerificationStatus } from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';

/** The statuses a verification announces; the event type is `<subject>.<status>` plus `created`. */
export const EVENT_STATUSES = ['created', 'action_pending', ...TERMINAL_STATUSES] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];
/** What an event is about: a verification (phone, push, identity) or an onboarding. */
export const EVENT_SUBJECTS = ['verification', 'onboarding'] as const;
export type EventSubject = (typeof EVENT_SUBJECTS)[number];
/** Every event type, `verification.created` … `onboarding.cancelled`. */
export const EVENT_TYPES = EVENT_SUBJECTS.flatMap((s) => EVENT_STATUSES.map((t) => `${s}.${t}`));

/**
 * Fields an event carries only when the API client opted into them (`events.fields` of CLIENTS_FILE): `to` — the
 * phone number (or onboarding's) — and `verifiedOutputs` — an identity's verified data, on `verification.completed`.
 * Codes never travel in an event.
 */
export const EVENT_FIELDS = ['to', 'verifiedOutputs'] as const;
export type EventField = (typeof EVENT_FIELDS)[number];

/** How each event is tried: exponential backoff for at most 3 days (`deliverySeconds`), a few tries on a 4xx. */
const DELIVERY = {
  initialIntervalSeconds: 5,
  backoffCoefficient: 2,
  maximumIntervalSeconds: 3600,
  deliverySeconds: 3 * 24 * 3600,
  /** Tries of an event the endpoint answers with a 4xx other than 410 before it is parked. */
  rejectedTries: 3,
  /** How long the delivery workflow takes redeliveries after its verification's last event settled. */
  lingerSeconds: 3 * 24 * 3600,
} as const;

const schemas = lazy('events', () => {
  /** The `events` option of a verification's input: set by the REST API from the client's settings. */
  const option = z.strictObject({
    /** The fields the client opted into (none by default). */
    fields: z.array(z.enum(EVENT_FIELDS)).max(EVENT_FIELDS.length).optional(),
  });

  /** What an event says about its verification: never the phone number, codes or identity data unless opted in. */
  const data = z.object({
    verificationId: z.string(),
    kind: z.string(),
    status: z.string(),
    reason: z.string().optional(),
    channel: z.enum(CHANNELS).optional(),
    provider: z.enum(PROVIDERS).optional(),
    /** The client's `reference`, when it gave one. */
    reference: z.string().optional(),
    client: z.string().optional(),
    startedAt: z.string().optional(),
    updatedAt: z.string().optional(),
    to: z.string().optional(),
    verifiedOutputs: z.record(z.string(), z.unknown()).optional(),
  });

  /**
   * One event as the endpoint receives it (the JSON body). `id` is also the `webhook-id` header: the same on every
   * try and every redelivery, so receivers dedupe by it.
   */
  const event = z.object({
    id: z.string().min(1).max(400),
    type: z.enum(EVENT_TYPES as [string, ...string[]]),
    /** When it happened (workflow time), ISO 8601. */
    timestamp: z.string(),
    data,
  });

  const input = z.strictObject({
    verificationId: z.string().min(1),
    /** The API client whose events endpoint receives the events (its URL and secret are worker config). */
    client: z.string().min(1),
    /** The verification's first event. */
    first: event,
  });

  const record = z.object({
    id: z.string(),
    type: z.string(),
    /**
     * `pending` (queued or being tried), `delivered` (a 2xx), `parked` (a 4xx after a few tries, or 3 days of
     * failures), `gone` (the endpoint answered 410: no more deliveries until a redelivery is asked for).
     */
    status: z.enum(['pending', 'delivered', 'parked', 'gone']),
    /** Tries of the last delivery (every try of a redelivery counts anew). */
    attempts: z.number().int(),
    /** The HTTP status of the last answer, when there was one. */
    lastStatusCode: z.number().int().optional(),
    lastError: z.string().optional(),
    deliveredAt: z.string().optional(),
    /** Redeliveries asked for. */
    redeliveries: z.number().int(),
    event,
  });

  const state = z.object({
    id: z.string(),
    verificationId: z.string(),
    client: z.string(),
    events: z.array(record),
  });

  const redeliverInput = z.strictObject({ eventId: z.string().min(1).max(400) });

  return { option, data, event, input, record, state, result: state, redeliverInput };
});

type Schemas = ReturnType<typeof schemas>;
/** The `events` option of phone, push, identity and onboarding inputs. */
export type EventsOption = z.infer<Schemas['option']>;
export type EventData = z.infer<Schemas['data']>;
/** One outbound event (the body the endpoint receives). */
export type VerificationEvent = z.infer<Schemas['event']>;
export type EventDeliveryInput = z.infer<Schemas['input']>;
/** One event of `GET /v1/events` with its delivery status. */
export type EventRecord = z.infer<Schemas['record']>;
export type EventDeliveryState = z.infer<Schemas['state']>;
export type RedeliverInput = z.infer<Schemas['redeliverInput']>;

/** The event status a verification status announces, if any (`pending` and `processing` announce nothing). */
export const eventStatusOf = (status: VerificationStatus): EventStatus | undefined =>
  status === 'action_pending' || (TERMINAL_STATUSES as readonly string[]).includes(status)
    ? (status as EventStatus)
    : undefined;

/** Event IDs: `<verificationId>~<run tag>~<n>`; the run tag tells runs of one verification ID apart. */
const EVENT_ID = /^(.+)~([0-9a-f]{8})~(\d{1,6})$/;

/** The event delivery's contract (see WorkflowContract). */
export const eventDeliveryContract = {
  type: 'eventDelivery',
  summary:
    "Delivers one verification's events, in order, to its API client's events endpoint (Standard Webhooks signatures).",
  idPrefix: 'events',
  idPattern: /^events-[A-Za-z0-9._:-]{1,160}$/,
  idScheme:
    "`events-<verification ID>`, started by the verification as an abandoned child; its events' IDs are " +
    '`<verification ID>~<run tag>~<n>`',
  /** Workflow ID of the event delivery of a verification. */
  id: (verificationId: string): string => `events-${verificationId}`,
  helpers: {
    /** The ID of the `n`th event of a verification's run (`runTag`: the first 8 hex digits of its first run ID). */
    eventId: (verificationId: string, runTag: string, n: number): string => `${verificationId}~${runTag}~${n}`,
    /** The verification an event ID belongs to ('' when it is not an event ID). */
    verificationOfEvent: (eventId: string): string => EVENT_ID.exec(eventId)?.[1] ?? '',
  },
  schemas,
  messages: {
    /** One more event of the verification, delivered after those before it. */
    event: signal<[VerificationEvent]>('event', {
      summary:
        'One more event of the verification (sent by the verification itself), delivered after the earlier ones.',
      input: () => schemas().event,
    }),
    /** Delivers an event again (same `webhook-id`), after those pending; answers with its record, queued. */
    redeliver: update<EventRecord, [RedeliverInput]>('redeliver', {
      summary: 'Deliver an event again (same webhook-id); resumes deliveries stopped by a 410.',
      input: () => schemas().redeliverInput,
      result: () => schemas().record,
    }),
    /** The events with their delivery status. */
    getState: query<EventDeliveryState>('getState', {
      summary: 'The events of the verification with their delivery status.',
      result: () => schemas().state,
    }),
  },
  defaults: DELIVERY,
  reasons: [],
} satisfies WorkflowContract;
