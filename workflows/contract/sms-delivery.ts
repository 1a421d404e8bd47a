/**
 * The contract of `smsDelivery`: one SMS for the inbound Auth0-compatible gateway (`POST /sms-gateway`), delivered
 * over ordered routes (the Vonage SMS API with delivery receipts, HTTP SMS gateways), falling back on failures.
 * Deterministic and Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import { REASONS, shared, type ProviderEvent } from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';

/** What can carry an SMS for `smsDelivery`: the Vonage SMS API, or one of our configured HTTP SMS gateways. */
export const SMS_ROUTE_PROVIDERS = ['vonage', 'sms_gateway'] as const;
export const SMS_DELIVERY_STATUSES = ['sending', 'accepted', 'delivered', 'failed'] as const;
export type SmsDeliveryStatus = (typeof SMS_DELIVERY_STATUSES)[number];

const schemas = lazy('sms-delivery', () => {
  const route = z
    .strictObject({
      provider: z.enum(SMS_ROUTE_PROVIDERS),
      /** `sms_gateway` only: the configured gateway's name. */
      gateway: shared.gatewayName().optional(),
    })
    .refine((r) => r.gateway === undefined || r.provider === 'sms_gateway', {
      path: ['gateway'],
      message: 'applies only to provider sms_gateway',
    });

  /** `req` of the Auth0 custom SMS gateway (`forward_req_info`): the end user's IP and user agent. PII: payloads only. */
  const requestInfo = z.object({
    ip: z.string().min(1).max(100).optional(),
    'user-agent': z.string().max(1024).optional(),
  });

  const input = z.strictObject({
    recipient: shared.e164Shape(),
    body: z.string().min(1).max(1600),
    sender: z.string().trim().min(1).max(32),
    req: requestInfo.optional(),
    /** Tried in order: the next one when a send fails (retries exhausted, rejected) or a delivery receipt fails. */
    routes: z.array(route).min(1).max(5),
    /** Activity attempts per route before falling back (default 2). */
    attemptsPerRoute: z.number().int().min(1).max(10).optional(),
    /** How long to wait for a delivery receipt (routes that send them) before taking "accepted" as final (600 s). */
    receiptTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
    /** The run stays open this long after its start, so a repeat of the same request joins it (default 600 s). */
    dedupeWindowSeconds: z.number().int().min(0).max(86_400).optional(),
  });

  /** One route as the state shows it: never the recipient, the body or the request info. */
  const routeState = z.object({
    provider: z.enum(SMS_ROUTE_PROVIDERS),
    gateway: z.string().optional(),
    status: z.enum(['waiting', 'sending', 'accepted', 'delivered', 'failed', 'skipped']),
    /** Why it failed: a FailureType, `ProviderUnavailable`, or the receipt's status (`failed`, `expired`). */
    failure: z.string().optional(),
  });

  /**
   * State (and result) of `smsDelivery`: `sending` until a provider accepted the message, then `accepted`,
   * `delivered` (a receipt said so) or `failed` (every route failed).
   */
  const state = z.object({
    id: z.string(),
    kind: z.literal('sms'),
    status: z.enum(SMS_DELIVERY_STATUSES),
    reason: z.enum(REASONS).optional(),
    routeIndex: z.number().int(),
    routes: z.array(routeState),
    /** `provider` or `sms_gateway:<name>` of the route that accepted it last. */
    acceptedBy: z.string().optional(),
    acceptedAt: z.string().optional(),
    startedAt: z.string(),
    updatedAt: z.string(),
  });

  const awaitAcceptanceInput = z.strictObject({
    /** Answer after this long even when no provider accepted yet (status `sending`). Default 25 s. */
    waitSeconds: z.number().min(0).max(300).optional(),
  });

  return {
    input,
    result: state,
    state,
    route,
    routeState,
    requestInfo,
    awaitAcceptanceInput,
    providerEvent: shared.providerEvent(),
  };
});

type Schemas = ReturnType<typeof schemas>;
export type SmsRoute = z.infer<Schemas['route']>;
export type SmsRequestInfo = z.infer<Schemas['requestInfo']>;
/** Input of `smsDelivery`. */
export type SmsDeliveryInput = z.input<Schemas['input']>;
export type SmsRouteState = z.infer<Schemas['routeState']>;
export type SmsDeliveryState = z.infer<Schemas['state']>;
export type SmsDeliveryResult = SmsDeliveryState;
export type AwaitAcceptanceInput = z.infer<Schemas['awaitAcceptanceInput']>;

/** The SMS delivery's contract (see WorkflowContract). */
export const smsDeliveryContract = {
  type: 'smsDelivery',
  kind: 'sms' as const,
  summary:
    'Delivers one SMS (the inbound Auth0-compatible gateway `POST /sms-gateway`) over ordered routes — Vonage SMS API with delivery receipts, HTTP SMS gateways — falling back on send failures and failed receipts; stays open for the dedupe window.',
  idPrefix: 'sms',
  idPattern: /^sms-[A-Za-z0-9_-]{1,64}$/,
  idScheme:
    '`sms-<keyed hash of recipient, body and time bucket>` (no PII); start with update-with-start (`awaitAcceptance`) and conflict policy USE_EXISTING',
  /** Workflow ID of an SMS delivery: `sms-<keyed hash of recipient, body and time bucket>` (no PII in it). */
  id: (hash: string): string => `sms-${hash}`,
  schemas,
  messages: {
    /**
     * Waits until a provider accepted the message (or every route failed, or `waitSeconds` passed) and returns the
     * state. The inbound gateway sends it with update-with-start; a repeated request sends it to the running one.
     */
    awaitAcceptance: update<SmsDeliveryState, [AwaitAcceptanceInput]>('awaitAcceptance', {
      summary: 'Answers once a provider accepted the message, every route failed, or `waitSeconds` passed.',
      input: () => schemas().awaitAcceptanceInput,
      result: () => schemas().state,
    }),
    /** A Vonage SMS API delivery receipt (signed webhook → signal). */
    providerEvent: signal<[ProviderEvent]>('providerEvent', {
      summary: 'A delivery receipt (Vonage SMS API, `ref` = message-id; sent by /webhooks/vonage-sms); deduplicated.',
      input: () => schemas().providerEvent,
    }),
    /** The state of an `smsDelivery` (same query name as every workflow). */
    getState: query<SmsDeliveryState>('getState', {
      summary: 'The delivery state.',
      result: () => schemas().state,
    }),
  },
  defaults: {},
} satisfies WorkflowContract;
