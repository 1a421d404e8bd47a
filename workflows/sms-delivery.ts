import {
  allHandlersFinished,
  condition,
  log,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { activitiesWithSummaries, createInbox, failureType, parseInput } from './common';
import type { createSmsDeliveryActivities } from '../activities/sms-delivery';
import {
  FailureType,
  formatIssues,
  type ProviderEvent,
  providerRef,
  SA_CHANNEL,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
} from './contract/common';
import {
  smsDeliveryContract,
  type SmsDeliveryInput,
  type SmsDeliveryResult,
  type SmsDeliveryState,
  type SmsRouteState,
} from './contract/sms-delivery';

type SmsActivities = ReturnType<typeof createSmsDeliveryActivities>;

const DEFAULT_ATTEMPTS_PER_ROUTE = 2;
const DEFAULT_RECEIPT_TIMEOUT_SECONDS = 600;
const DEFAULT_DEDUPE_WINDOW_SECONDS = 600;
const DEFAULT_WAIT_SECONDS = 25;
/** Receipts kept (a long message has one per part); more are dropped. */
const MAX_RECEIPTS = 50;

type ReceiptOutcome = 'delivered' | 'failed' | 'expired' | 'pending';

/**
 * Delivers one SMS (the inbound Auth0-compatible gateway's message) over an ordered list of routes — the Vonage SMS
 * API with delivery receipts, or one of our HTTP SMS gateways — falling back to the next route when a send fails
 * (retries exhausted, rejected) or a delivery receipt says it failed. `awaitAcceptance` (sent with update-with-start)
 * answers once a provider accepted the message; the run goes on after that answer, waits for receipts, and stays
 * open for the dedupe window so a repeated request joins it instead of sending again. The state never holds the
 * recipient, the text or the request info (they live only in the input payload).
 */
export async function smsDelivery(rawInput: SmsDeliveryInput): Promise<SmsDeliveryResult> {
  const input = parseInput(smsDeliveryContract.schemas().input, rawInput, 'smsDelivery');
  const id = workflowInfo().workflowId;
  const startedAt = Date.now();
  const state: SmsDeliveryState = {
    id,
    kind: 'sms',
    status: 'sending',
    routeIndex: 0,
    routes: input.routes.map((r): SmsRouteState => ({
      provider: r.provider,
      ...(r.gateway ? { gateway: r.gateway } : {}),
      status: 'waiting',
    })),
    startedAt: new Date(startedAt).toISOString(),
    updatedAt: new Date(startedAt).toISOString(),
  };
  const sendOptions: ActivityOptions = {
    // The gateway adapter enforces its own (configurable) timeout below this.
    startToCloseTimeout: '2m',
    retry: {
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '10s',
      maximumAttempts: input.attemptsPerRoute ?? DEFAULT_ATTEMPTS_PER_ROUTE,
    },
  };
  const call = activitiesWithSummaries<SmsActivities>(sendOptions);

  /** Receipt status per provider message id (they may arrive before the send activity reported the id). */
  const receipts = new Map<string, ProviderEvent['status']>();
  const providerRefs: string[] = [];
  const touch = (): void => {
    state.updatedAt = new Date().toISOString();
  };
  const publish = (): void => {
    upsertSearchAttributes([
      { key: SA_KIND, value: 'sms' },
      { key: SA_STATUS, value: state.status },
      { key: SA_CHANNEL, value: 'sms' },
      { key: SA_PROVIDER, value: state.routes[state.routeIndex].provider },
      { key: SA_PROVIDER_REF, value: [...providerRefs] },
    ]);
  };
  const routeLabel = (i: number): string => {
    const r = state.routes[i];
    return r.provider === 'sms_gateway' ? `sms_gateway ${r.gateway ?? '(default)'}` : r.provider;
  };

  setHandler(smsDeliveryContract.messages.getState, () => state);

  const inbox = createInbox({
    schema: shared.providerEvent(),
    deliver: (event) => {
      if (!receipts.has(event.ref) && receipts.size >= MAX_RECEIPTS) return;
      // A failure of a message part is final for that part; a late `delivered` does not undo it.
      if (receipts.get(event.ref) !== 'failed') receipts.set(event.ref, event.status);
      touch();
    },
  });
  setHandler(smsDeliveryContract.messages.providerEvent, (raw) => inbox.receive(raw));

  setHandler(
    smsDeliveryContract.messages.awaitAcceptance,
    async (req) => {
      const waitMs = (req?.waitSeconds ?? DEFAULT_WAIT_SECONDS) * 1000;
      if (state.status === 'sending' && waitMs > 0) await condition(() => state.status !== 'sending', waitMs);
      return state;
    },
    {
      validator: (req) => {
        const r = smsDeliveryContract.schemas().awaitAcceptanceInput.safeParse(req ?? {});
        if (!r.success) throw new Error(formatIssues(r.error));
      },
    },
  );

  const receiptOutcome = (messageIds: string[]): ReceiptOutcome | undefined => {
    const statuses = messageIds.map((m) => receipts.get(m));
    if (statuses.some((s) => s === 'failed' || s === 'user_rejected')) return 'failed';
    if (statuses.some((s) => s === 'expired')) return 'expired';
    if (statuses.every((s) => s === 'completed')) return 'delivered';
    return undefined;
  };

  publish();
  let invalidDestination = false;
  for (let i = 0; i < input.routes.length; i++) {
    const route = input.routes[i];
    const shown = state.routes[i];
    state.routeIndex = i;
    shown.status = 'sending';
    touch();
    setCurrentDetails(`sending via ${routeLabel(i)}, route ${i + 1} of ${input.routes.length}`);
    let messageIds: string[] = [];
    try {
      if (route.provider === 'vonage') {
        const sent = await call('vonageSmsSend', `send via vonage (route ${i + 1})`, {
          to: input.recipient,
          from: input.sender,
          text: input.body,
          clientRef: id.length <= 100 ? id : undefined,
        });
        messageIds = sent.messageIds;
        providerRefs.push(...messageIds.map((m) => providerRef('vonage', m)));
      } else {
        const sent = await call('smsGatewaySend', `send via ${routeLabel(i)} (route ${i + 1})`, {
          gateway: route.gateway,
          recipient: input.recipient,
          body: input.body,
          sender: input.sender,
          req: input.req,
        });
        shown.gateway = sent.gateway;
      }
    } catch (err) {
      const type = failureType(err) ?? 'ProviderUnavailable';
      log.warn('SMS route failed, falling back', { route: i, provider: route.provider, type });
      shown.status = 'failed';
      shown.failure = type;
      touch();
      if (type === FailureType.InvalidDestination) {
        invalidDestination = true;
        break;
      }
      continue;
    }
    shown.status = 'accepted';
    state.acceptedBy = route.provider === 'vonage' ? 'vonage' : `sms_gateway:${shown.gateway}`;
    state.acceptedAt ??= new Date().toISOString();
    if (state.status === 'sending') state.status = 'accepted';
    touch();
    publish();
    // A route without receipts (an HTTP gateway: only the status counts) ends with its acceptance.
    if (messageIds.length === 0) break;
    setCurrentDetails(`accepted by ${routeLabel(i)}, waiting for the delivery receipt`);
    const receiptTimeoutMs = (input.receiptTimeoutSeconds ?? DEFAULT_RECEIPT_TIMEOUT_SECONDS) * 1000;
    await condition(() => receiptOutcome(messageIds) !== undefined, receiptTimeoutMs, {
      summary: 'delivery receipt timeout',
    });
    const outcome = receiptOutcome(messageIds) ?? 'pending';
    // No receipt in time: "accepted" stands, rather than risk sending the message twice.
    if (outcome === 'pending') break;
    if (outcome === 'delivered') {
      shown.status = 'delivered';
      state.status = 'delivered';
      touch();
      break;
    }
    shown.status = 'failed';
    shown.failure = outcome;
    touch();
  }
  for (const r of state.routes) if (r.status === 'waiting') r.status = 'skipped';
  if (!state.routes.some((r) => r.status === 'accepted' || r.status === 'delivered')) {
    state.status = 'failed';
    state.reason = invalidDestination ? 'invalid_destination' : 'provider_error';
  }
  touch();
  publish();

  const dedupeUntil = startedAt + (input.dedupeWindowSeconds ?? DEFAULT_DEDUPE_WINDOW_SECONDS) * 1000;
  setCurrentDetails(`${state.status}${state.acceptedBy ? ` via ${state.acceptedBy}` : ''}; kept open for repeats`);
  if (Date.now() < dedupeUntil) await sleep(dedupeUntil - Date.now(), { summary: 'dedupe window' });
  setCurrentDetails(`${state.status}${state.acceptedBy ? ` via ${state.acceptedBy}` : ''}`);
  await condition(allHandlersFinished);
  return state;
}
