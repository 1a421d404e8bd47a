import {
  ApplicationFailure,
  condition,
  allHandlersFinished,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createPhoneActivities } from '../activities/phone';
import {
  cancel,
  cancelInputSchema,
  checkCode,
  checkCodeInputSchema,
  DEFAULT_CHANNEL_TIMEOUT_SECONDS,
  DEFAULT_MAX_CODE_ATTEMPTS,
  DEFAULT_PHONE_CHANNELS,
  DEFAULT_PHONE_EXPIRY_SECONDS,
  FailureType,
  formatIssues,
  getState,
  isTerminal,
  nextChannel,
  phoneVerificationInputSchema,
  providerEvent,
  providerEventSchema,
  providerRef,
  SA_CHANNEL,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  type ChannelState,
  type CheckCodeResult,
  type PhoneVerificationInput,
  type PhoneVerificationResult,
  type ProviderEvent,
  type Reason,
  type VerificationState,
  type VerificationStatus,
} from './definitions';

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type PhoneActivities = ReturnType<typeof createPhoneActivities>;

const activityOptions: ActivityOptions = {
  startToCloseTimeout: '30s',
  // Outages (429/5xx/network) are retried; the adapter turns Retry-After into the next retry delay.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 5 },
};
const acts = proxyActivities<PhoneActivities>(activityOptions);
type WithOptions = { executeWithOptions(options: ActivityOptions, args: unknown[]): Promise<unknown> };

/** Vonage Verify v2 accepts at most 3 workflow steps per request, silent_auth only as the first. */
const MAX_PROVIDER_STEPS = 3;
/** Callbacks that arrive before their request id is known are held, up to this many. */
const MAX_EARLY_EVENTS = 20;

const CHANNEL_LABEL: Record<string, string> = {
  silent_auth: 'silent auth',
  sms: 'SMS code',
  voice: 'voice call code',
  whatsapp: 'WhatsApp code',
  email: 'e-mail code',
};

/** The provider request that currently serves channels `first..last` (Vonage request with fallback steps). */
interface ProviderRun {
  requestId: string;
  first: number;
  last: number;
}

/**
 * Verifies a phone number. The workflow owns the fallback: it groups consecutive channels of one provider into one
 * provider request (Vonage silent_auth → sms → voice), waits on each channel with its own timer, and moves on when a
 * channel fails, times out or the caller asks for the next channel (Vonage `next_workflow`, else a new request).
 * Codes arrive through the `checkCode` update; provider callbacks through the `providerEvent` signal.
 */
export async function phoneVerification(rawInput: PhoneVerificationInput): Promise<PhoneVerificationResult> {
  const parsed = phoneVerificationInputSchema.safeParse(rawInput);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: FailureType.InvalidInput,
      message: `invalid phoneVerification input: ${formatIssues(parsed.error)}`,
      nonRetryable: true,
    });
  }
  const input = parsed.data;
  const channels = input.channels ?? DEFAULT_PHONE_CHANNELS;
  const specs = channels.map((c) => ({
    channel: c.channel,
    provider: c.provider ?? 'vonage',
    to: c.to ?? input.to,
    timeoutSeconds: c.timeoutSeconds ?? DEFAULT_CHANNEL_TIMEOUT_SECONDS[c.channel],
  }));
  const startedAt = Date.now();
  const expiresAtMs = startedAt + (input.expirySeconds ?? DEFAULT_PHONE_EXPIRY_SECONDS) * 1000;
  const state: VerificationState = {
    id: workflowInfo().workflowId,
    kind: 'phone',
    status: 'pending',
    channelIndex: 0,
    channel: specs[0].channel,
    channels: specs.map((s): ChannelState => ({
      channel: s.channel,
      provider: s.provider,
      timeoutSeconds: s.timeoutSeconds,
      status: 'waiting',
    })),
    attemptsLeft: input.maxCodeAttempts ?? DEFAULT_MAX_CODE_ATTEMPTS,
    expiresAt: new Date(expiresAtMs).toISOString(),
    startedAt: new Date(startedAt).toISOString(),
    updatedAt: new Date(startedAt).toISOString(),
  };

  let run: ProviderRun | undefined;
  let channelDeadline = 0;
  /** Bumped whenever the main loop must look again (handlers never call provider-advancing activities). */
  let tick = 0;
  let advanceRequested = false;
  let cancelRequested = false;
  const seenEvents = new Set<string>();
  const early: ProviderEvent[] = [];
  const providerRefs: string[] = [];

  const touch = (): void => {
    state.updatedAt = new Date().toISOString();
    tick++;
  };
  const finish = (status: VerificationStatus, reason: Reason): void => {
    if (isTerminal(state.status)) return;
    state.status = status;
    state.reason = reason;
    state.checkUrl = undefined;
    const current = state.channels[state.channelIndex];
    if (current && current.status === 'active') current.status = status === 'completed' ? 'completed' : 'failed';
    touch();
  };
  const activate = (index: number, checkUrl?: string): void => {
    state.channelIndex = index;
    const spec = specs[index];
    state.channel = spec.channel;
    state.channels[index].status = 'active';
    state.checkUrl = spec.channel === 'silent_auth' ? checkUrl : undefined;
    state.status = state.checkUrl ? 'action_pending' : 'pending';
    channelDeadline = Date.now() + spec.timeoutSeconds * 1000;
    touch();
  };
  /** Marks channels `from..to` failed and moves the index past them (the caller activates or starts what follows). */
  const failChannels = (from: number, to: number): void => {
    for (let i = from; i <= to && i < specs.length; i++) {
      if (state.channels[i].status === 'active' || state.channels[i].status === 'waiting') {
        state.channels[i].status = 'failed';
      }
    }
    state.channelIndex = to + 1;
    touch();
  };
  const describe = (): string => {
    const spec = specs[state.channelIndex];
    const expires = state.expiresAt.slice(11, 19);
    if (isTerminal(state.status)) return `${state.status}${state.reason ? ` (${state.reason})` : ''}`;
    if (!spec) return `moving on, expires ${expires} UTC`;
    const what =
      spec.channel === 'silent_auth'
        ? 'waiting for the silent auth check'
        : `waiting for the ${CHANNEL_LABEL[spec.channel]}`;
    return `${what}, channel ${state.channelIndex + 1} of ${specs.length} (${spec.provider}), expires ${expires} UTC`;
  };

  /** Runs an activity with a summary the Temporal UI shows next to it. */
  const call = <K extends keyof PhoneActivities>(
    name: K,
    summary: string,
    ...args: Parameters<PhoneActivities[K]>
  ): Promise<Awaited<ReturnType<PhoneActivities[K]>>> =>
    (acts as unknown as Record<string, WithOptions>)[name as string].executeWithOptions(
      { ...activityOptions, summary },
      args,
    ) as Promise<Awaited<ReturnType<PhoneActivities[K]>>>;

  setHandler(getState, () => state);

  /** Applies a provider event about the current request. */
  const applyEvent = (event: ProviderEvent, current: ProviderRun): void => {
    switch (event.status) {
      case 'action_pending':
        if (specs[state.channelIndex]?.channel === 'silent_auth' && event.checkUrl) {
          state.checkUrl = event.checkUrl;
          state.status = 'action_pending';
          touch();
        }
        return;
      case 'failed': {
        // Which step failed: the first step at or after the current one with that channel; earlier = stale.
        let i = state.channelIndex;
        while (i <= current.last && specs[i].channel !== event.channel) i++;
        if (i > current.last) return;
        failChannels(state.channelIndex, i);
        // The provider moves to its next step on its own; past its last step the request is over.
        if (i < current.last) activate(i + 1);
        else run = undefined;
        return;
      }
      case 'expired':
        failChannels(state.channelIndex, current.last);
        run = undefined;
        return;
      case 'user_rejected':
        run = undefined;
        finish('failed', 'user_rejected');
        return;
      case 'completed':
        run = undefined;
        finish('completed', 'verified');
        return;
    }
  };

  setHandler(providerEvent, (raw: ProviderEvent) => {
    // Signals cannot be rejected: a malformed one is logged and dropped.
    const parsed = providerEventSchema.safeParse(raw);
    if (!parsed.success) {
      log.warn('malformed provider event dropped', { issues: formatIssues(parsed.error) });
      return;
    }
    const event = parsed.data;
    if (seenEvents.has(event.eventId)) return;
    seenEvents.add(event.eventId);
    if (isTerminal(state.status)) return;
    if (!run || event.ref !== run.requestId) {
      // A callback can overtake the activity result that tells us its request id: keep it until that request
      // is ours. Events of requests we already left are stale.
      if (providerRefs.includes(providerRef(event.provider, event.ref)) || early.length >= MAX_EARLY_EVENTS) {
        log.info('provider event ignored (stale)', { status: event.status });
      } else {
        early.push(event);
      }
      return;
    }
    applyEvent(event, run);
  });

  const terminalResult = (): CheckCodeResult => ({
    status: state.status === 'completed' ? 'completed' : state.status === 'expired' ? 'expired' : 'failed',
    attemptsLeft: state.attemptsLeft,
    ...(state.reason && state.reason !== 'verified' ? { reason: state.reason } : {}),
  });

  const rejectIfNotLive = (): void => {
    if (isTerminal(state.status)) {
      throw ApplicationFailure.create({
        type: FailureType.NotLive,
        message: `verification is ${state.status}`,
        nonRetryable: true,
      });
    }
  };

  setHandler(
    checkCode,
    async (req): Promise<CheckCodeResult> => {
      // The code can reach us before the activity that created its request has reported back: wait for it.
      await condition(() => run !== undefined || isTerminal(state.status));
      const current = run;
      if (!current) return terminalResult();
      const spendAttempt = (): CheckCodeResult => {
        state.attemptsLeft = Math.max(0, state.attemptsLeft - 1);
        touch();
        if (state.attemptsLeft === 0) {
          finish('failed', 'max_attempts');
          return { status: 'failed', attemptsLeft: 0, reason: 'max_attempts' };
        }
        return { status: 'invalid_code', attemptsLeft: state.attemptsLeft };
      };
      if (specs[state.channelIndex]?.channel === 'silent_auth' && req.requestId !== current.requestId) {
        // Seed rule against man-in-the-middle: the redirect chain's request_id must be ours, else abort silent auth.
        log.warn('silent auth result for another request_id: silent auth aborted');
        advanceRequested = true;
        const result = spendAttempt();
        return { ...result, reason: result.reason ?? 'request_id_mismatch' };
      }
      const outcome = await call('vonageCheckCode', `check code (${state.channel})`, {
        requestId: current.requestId,
        code: req.code,
      });
      if (isTerminal(state.status)) return terminalResult();
      switch (outcome) {
        case 'completed':
          if (run === current) run = undefined;
          finish('completed', 'verified');
          return { status: 'completed', attemptsLeft: state.attemptsLeft };
        case 'invalid_code':
          return spendAttempt();
        case 'too_many_attempts':
          if (run === current) run = undefined;
          state.attemptsLeft = 0;
          finish('failed', 'max_attempts');
          return { status: 'failed', attemptsLeft: 0, reason: 'max_attempts' };
        case 'not_found':
          // The provider request is over (expired or ended there): move on to whatever channel follows it.
          if (run === current) {
            failChannels(state.channelIndex, current.last);
            run = undefined;
          }
          return { status: 'expired', attemptsLeft: state.attemptsLeft };
        case 'code_not_supported':
          throw ApplicationFailure.create({
            type: FailureType.CodeNotSupported,
            message: `the ${state.channel} channel does not take a code now`,
            nonRetryable: true,
          });
      }
    },
    {
      validator: (req) => {
        const r = checkCodeInputSchema.safeParse(req);
        if (!r.success) throw new Error(formatIssues(r.error));
        rejectIfNotLive();
      },
    },
  );

  setHandler(
    nextChannel,
    async () => {
      const from = state.channelIndex;
      advanceRequested = true;
      touch();
      // Answer once the next channel is live (its request may have to be created first), or the run is over.
      await condition(
        () =>
          isTerminal(state.status) ||
          (state.channelIndex !== from && state.channels[state.channelIndex]?.status === 'active'),
      );
      return state;
    },
    { validator: rejectIfNotLive },
  );

  setHandler(
    cancel,
    async () => {
      cancelRequested = true;
      touch();
      await condition(() => isTerminal(state.status));
      return state;
    },
    {
      validator: (req) => {
        const r = cancelInputSchema.safeParse(req ?? {});
        if (!r.success) throw new Error(formatIssues(r.error));
        rejectIfNotLive();
      },
    },
  );

  const publish = (): void => {
    upsertSearchAttributes([
      { key: SA_KIND, value: 'phone' },
      { key: SA_STATUS, value: state.status },
      { key: SA_CHANNEL, value: state.channel ?? '' },
      { key: SA_PROVIDER, value: specs[Math.min(state.channelIndex, specs.length - 1)].provider },
      { key: SA_PROVIDER_REF, value: [...providerRefs] },
    ]);
  };

  /** Starts one provider request for the channels from `index` on (up to 3 consecutive ones of that provider). */
  const startRequest = async (index: number): Promise<void> => {
    const provider = specs[index].provider;
    let last = index;
    while (
      last + 1 < specs.length &&
      last + 1 - index < MAX_PROVIDER_STEPS &&
      specs[last + 1].provider === provider &&
      specs[last + 1].channel !== 'silent_auth'
    ) {
      last++;
    }
    const steps = specs.slice(index, last + 1);
    const id = workflowInfo().workflowId;
    try {
      const created = await call('vonageStartVerification', `start ${steps.map((s) => s.channel).join(' → ')}`, {
        brand: input.brand,
        steps: steps.map((s) => ({ channel: s.channel, to: s.to })),
        codeLength: input.codeLength,
        locale: input.locale,
        // Our timers decide when to fall back; the provider's own channel timeout is only a backstop.
        channelTimeoutSeconds: Math.min(900, Math.max(15, ...steps.map((s) => s.timeoutSeconds + 30))),
        clientRef: id.length <= 40 ? id : undefined,
      });
      run = { requestId: created.requestId, first: index, last };
      providerRefs.push(providerRef(provider, created.requestId));
      activate(index, created.checkUrl);
      for (const event of early.splice(0)) {
        if (run && event.ref === run.requestId && !isTerminal(state.status)) applyEvent(event, run);
      }
    } catch (err) {
      const type = failureType(err);
      if (type === FailureType.InvalidDestination) {
        failChannels(index, last);
        finish('failed', 'invalid_destination');
        return;
      }
      log.warn('provider request failed, falling back', { provider, type });
      failChannels(index, last);
    }
  };

  /** Leaves the current channel: the provider's next step when it has one, else the next request. */
  const advance = async (): Promise<void> => {
    const current = run;
    const from = state.channelIndex;
    if (current && from < current.last) {
      const moved = await call('vonageNextWorkflow', `next channel after ${specs[from].channel}`, current.requestId);
      if (isTerminal(state.status) || run !== current || state.channelIndex !== from) return;
      if (moved) {
        failChannels(from, from);
        activate(from + 1);
        return;
      }
    }
    if (current) {
      run = undefined;
      await call('vonageCancel', 'cancel provider request', current.requestId);
      if (isTerminal(state.status)) return;
    }
    failChannels(from, from);
  };

  while (!isTerminal(state.status)) {
    if (Date.now() >= expiresAtMs) {
      finish('expired', 'expired');
      break;
    }
    if (cancelRequested) {
      finish('cancelled', 'cancelled');
      break;
    }
    if (state.channelIndex >= specs.length) {
      finish('failed', 'all_channels_failed');
      break;
    }
    if (!run) {
      await startRequest(state.channelIndex);
      publish();
      continue;
    }
    if (advanceRequested) {
      advanceRequested = false;
      await advance();
      continue;
    }
    if (Date.now() >= channelDeadline) {
      advanceRequested = true;
      continue;
    }
    setCurrentDetails(describe());
    const seen = tick;
    await condition(() => tick !== seen, Math.min(channelDeadline, expiresAtMs) - Date.now(), {
      summary: `${specs[state.channelIndex].channel} timeout`,
    });
  }

  if (run && state.status !== 'completed') {
    const leftover = run;
    run = undefined;
    await call('vonageCancel', 'cancel provider request', leftover.requestId);
  }
  setCurrentDetails(describe());
  publish();
  await condition(allHandlersFinished);
  return state;
}

function failureType(err: unknown): string | undefined {
  let e: unknown = err;
  while (e && typeof e === 'object') {
    if (e instanceof ApplicationFailure) return e.type ?? undefined;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
