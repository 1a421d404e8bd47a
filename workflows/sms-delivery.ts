import {
  allHandlersFinished,
  condition,
  log,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
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
  const startedAt = Date.now();
  const d = new Delivery(input, workflowInfo().workflowId, startedAt);
  setHandler(smsDeliveryContract.messages.getState, () => d.state);
  setHandler(smsDeliveryContract.messages.providerEvent, (raw) => d.inbox.receive(raw));
  setHandler(
    smsDeliveryContract.messages.awaitAcceptance,
    async (req) => {
      const waitMs = (req?.waitSeconds ?? DEFAULT_WAIT_SECONDS) * 1000;
      if (d.state.status === 'sending' && waitMs > 0) await condition(() => d.state.status !== 'sending', waitMs);
      return d.state;
    },
    {
      validator: (req) => {
        const r = smsDeliveryContract.schemas().awaitAcceptanceInput.safeParse(req ?? {});
        if (!r.success) throw new Error(formatIssues(r.error));
      },
    },
  );

  d.publish();
  await d.deliver();

  const state = d.state;
  const dedupeUntil = startedAt + (input.dedupeWindowSeconds ?? DEFAULT_DEDUPE_WINDOW_SECONDS) * 1000;
  setCurrentDetails(`${state.status}${state.acceptedBy ? ` via ${state.acceptedBy}` : ''}; kept open for repeats`);
  if (Date.now() < dedupeUntil) await sleep(dedupeUntil - Date.now(), { summary: 'dedupe window' });
  setCurrentDetails(`${state.status}${state.acceptedBy ? ` via ${state.acceptedBy}` : ''}`);
  await condition(allHandlersFinished);
  return state;
}

type Input = ReturnType<ReturnType<typeof smsDeliveryContract.schemas>['input']['parse']>;

/** One delivery: its state, the receipts that arrived, and the routes tried in order. */
class Delivery {
  readonly state: SmsDeliveryState;
  /** Receipt status per provider message id (they may arrive before the send activity reported the id). */
  private readonly receipts = new Map<string, ProviderEvent['status']>();
  private readonly providerRefs: string[] = [];
  private readonly call: ReturnType<typeof activitiesWithSummaries<SmsActivities>>;
  readonly inbox = createInbox({
    schema: shared.providerEvent(),
    deliver: (event) => {
      if (!this.receipts.has(event.ref) && this.receipts.size >= MAX_RECEIPTS) return;
      // A failure of a message part is final for that part; a late `delivered` does not undo it.
      if (this.receipts.get(event.ref) !== 'failed') this.receipts.set(event.ref, event.status);
      this.touch();
    },
  });

  constructor(
    private readonly input: Input,
    private readonly id: string,
    startedAt: number,
  ) {
    this.state = {
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
    this.call = activitiesWithSummaries<SmsActivities>({
      // The gateway adapter enforces its own (configurable) timeout below this.
      startToCloseTimeout: '2m',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '10s',
        maximumAttempts: input.attemptsPerRoute ?? DEFAULT_ATTEMPTS_PER_ROUTE,
      },
    });
  }

  touch(): void {
    this.state.updatedAt = new Date().toISOString();
  }

  publish(): void {
    upsertSearchAttributes([
      { key: SA_KIND, value: 'sms' },
      { key: SA_STATUS, value: this.state.status },
      { key: SA_CHANNEL, value: 'sms' },
      { key: SA_PROVIDER, value: this.state.routes[this.state.routeIndex].provider },
      { key: SA_PROVIDER_REF, value: [...this.providerRefs] },
    ]);
  }

  private routeLabel(i: number): string {
    const r = this.state.routes[i];
    return r.provider === 'sms_gateway' ? `sms_gateway ${r.gateway ?? '(default)'}` : r.provider;
  }

  /** Tries the routes in order until one delivers (or is accepted without receipts); ends `failed` when none does. */
  async deliver(): Promise<void> {
    let invalidDestination = false;
    for (let i = 0; i < this.input.routes.length; i++) {
      const next = await this.tryRoute(i);
      if (next === 'invalid_destination') invalidDestination = true;
      if (next !== 'next') break;
    }
    for (const r of this.state.routes) if (r.status === 'waiting') r.status = 'skipped';
    if (!this.state.routes.some((r) => r.status === 'accepted' || r.status === 'delivered')) {
      this.state.status = 'failed';
      this.state.reason = invalidDestination ? 'invalid_destination' : 'provider_error';
    }
    this.touch();
    this.publish();
  }

  /** Sends through route `i` and waits for its receipt when it has them: stop here, or try the next route. */
  private async tryRoute(i: number): Promise<'stop' | 'next' | 'invalid_destination'> {
    const route = this.input.routes[i];
    const shown = this.state.routes[i];
    this.state.routeIndex = i;
    shown.status = 'sending';
    this.touch();
    setCurrentDetails(`sending via ${this.routeLabel(i)}, route ${i + 1} of ${this.input.routes.length}`);
    let messageIds: string[];
    try {
      messageIds = await this.send(i);
    } catch (err) {
      const type = failureType(err) ?? 'ProviderUnavailable';
      log.warn('SMS route failed, falling back', { route: i, provider: route.provider, type });
      shown.status = 'failed';
      shown.failure = type;
      this.touch();
      return type === FailureType.InvalidDestination ? 'invalid_destination' : 'next';
    }
    shown.status = 'accepted';
    this.state.acceptedBy = route.provider === 'vonage' ? 'vonage' : `sms_gateway:${shown.gateway}`;
    this.state.acceptedAt ??= new Date().toISOString();
    if (this.state.status === 'sending') this.state.status = 'accepted';
    this.touch();
    this.publish();
    // A route without receipts (an HTTP gateway: only the status counts) ends with its acceptance.
    if (messageIds.length === 0) return 'stop';
    setCurrentDetails(`accepted by ${this.routeLabel(i)}, waiting for the delivery receipt`);
    const receiptTimeoutMs = (this.input.receiptTimeoutSeconds ?? DEFAULT_RECEIPT_TIMEOUT_SECONDS) * 1000;
    await condition(() => this.receiptOutcome(messageIds) !== undefined, receiptTimeoutMs, {
      summary: 'delivery receipt timeout',
    });
    const outcome = this.receiptOutcome(messageIds) ?? 'pending';
    // No receipt in time: "accepted" stands, rather than risk sending the message twice.
    if (outcome === 'pending') return 'stop';
    if (outcome === 'delivered') {
      shown.status = 'delivered';
      this.state.status = 'delivered';
      this.touch();
      return 'stop';
    }
    shown.status = 'failed';
    shown.failure = outcome;
    this.touch();
    return 'next';
  }

  /** The send activity of route `i`: the provider message ids that will get receipts (none for an HTTP gateway). */
  private async send(i: number): Promise<string[]> {
    const route = this.input.routes[i];
    if (route.provider === 'vonage') {
      const sent = await this.call('vonageSmsSend', `send via vonage (route ${i + 1})`, {
        to: this.input.recipient,
        from: this.input.sender,
        text: this.input.body,
        clientRef: this.id.length <= 100 ? this.id : undefined,
      });
      this.providerRefs.push(...sent.messageIds.map((m) => providerRef('vonage', m)));
      return sent.messageIds;
    }
    const sent = await this.call('smsGatewaySend', `send via ${this.routeLabel(i)} (route ${i + 1})`, {
      gateway: route.gateway,
      recipient: this.input.recipient,
      body: this.input.body,
      sender: this.input.sender,
      req: this.input.req,
    });
    this.state.routes[i].gateway = sent.gateway;
    return [];
  }

  private receiptOutcome(messageIds: string[]): ReceiptOutcome | undefined {
    const statuses = messageIds.map((m) => this.receipts.get(m));
    if (statuses.some((s) => s === 'failed' || s === 'user_rejected')) return 'failed';
    if (statuses.some((s) => s === 'expired')) return 'expired';
    if (statuses.every((s) => s === 'completed')) return 'delivered';
    return undefined;
  }
}
