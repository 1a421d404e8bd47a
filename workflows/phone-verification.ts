import {
  ApplicationFailure,
  condition,
  allHandlersFinished,
  CancellationScope,
  isCancellation,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createPhoneActivities } from '../activities/phone';
import {
  activitiesWithSummaries,
  failureType,
  findRefusal,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  providerSendOptions,
  rejectIfNotLive as rejectIfNotLiveStatus,
  rethrowRefusal,
  setCancelHandler,
  TEMPORAL_CALLER_CLIENT,
  type GuardParams,
} from './common';
import type { createOtpActivities } from '../activities/otp';
import {
  FailureType,
  formatIssues,
  isTerminal,
  type ProviderEvent,
  providerRef,
  type Reason,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
  type VerificationStatus,
} from './contract/common';
import {
  type ChannelState,
  type CheckCodeInput,
  type CheckCodeResult,
  phoneContract,
  type PhoneVerificationInput,
  type PhoneVerificationResult,
  type PhoneVerificationState,
} from './contract/phone';

// Time here is the workflow clock: Date.now() and new Date() are deterministic inside the workflow sandbox.
type PhoneActivities = ReturnType<typeof createPhoneActivities>;

/**
 * Sends through an HTTP SMS gateway: the adapter enforces the gateway's own timeout (30 s by default); three attempts,
 * then the channel falls back, so a gateway that hangs costs about 1.5 minutes at most. The send heartbeats while it
 * waits on the gateway, so a worker that dies mid-send is noticed within the heartbeat timeout and the retry (which
 * sends the same code again) follows at once instead of after the start-to-close timeout.
 */
const gatewayActivityOptions: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
};
/** Runs a Vonage activity with a summary the Temporal UI shows next to it. */
const call = activitiesWithSummaries<PhoneActivities>(PROVIDER_ACTIVITY_OPTIONS);
/** The same for the activities of our own OTP (gateway timing). */
const callOtp = activitiesWithSummaries<OtpActivities>(gatewayActivityOptions);
type OtpActivities = ReturnType<typeof createOtpActivities>;

/** Vonage Verify v2 accepts at most 3 workflow steps per request, silent_auth only as the first. */
const MAX_PROVIDER_STEPS = 3;
/** How long a retried check that found its request gone waits for the `completed` callback of a lost attempt. */
const COMPLETED_CALLBACK_GRACE_MS = 10_000;
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
  /** An sms_gateway channel: our own code, known only by its keyed HMAC (no provider request behind it). */
  otp?: OwnOtp;
}

/**
 * A caller's update (nextChannel, resend) the main loop serves: when the abuse guard refuses the send it needs, the
 * refusal is handed back to that update (the caller gets 429) and the run stays as it was.
 */
interface SendOrder {
  refused?: ApplicationFailure;
}

/** One issued code of ours: the HMAC `otpSend` returned, its issue number and when it stops working. */
interface OwnOtp {
  hmac: string;
  issue: number;
  expiresAtMs: number;
}

/**
 * Verifies a phone number. The workflow owns the fallback: it groups consecutive channels of one provider into one
 * provider request (Vonage silent_auth → sms → voice), waits on each channel with its own timer, and moves on when a
 * channel fails, times out or the caller asks for the next channel (Vonage `next_workflow`, else a new request).
 * Codes arrive through the `checkCode` update; provider callbacks through the `providerEvent` signal.
 *
 * Channels of provider `sms_gateway` carry our own code through an HTTP SMS gateway: generated and sent by an
 * activity that returns only its keyed HMAC, checked by an activity in constant time, one check at a time, within
 * the verification's attempts; a `resend` or a new channel issues a new code and the old one stops working. One run
 * can mix providers (Vonage silent auth → our gateway's SMS → Vonage voice), and a channel listed twice with two
 * providers falls back from one provider to the other when the first is down.
 */
export async function phoneVerification(rawInput: PhoneVerificationInput): Promise<PhoneVerificationResult> {
  const input = parseInput(phoneContract.schemas().input, rawInput, 'phoneVerification');
  const channels = input.channels ?? phoneContract.defaults.channels;
  const specs = channels.map((c) => ({
    channel: c.channel,
    provider: c.provider ?? 'vonage',
    gateway: c.gateway,
    to: c.to ?? input.to,
    timeoutSeconds: c.timeoutSeconds ?? phoneContract.defaults.channelTimeoutSeconds[c.channel],
  }));
  const startedAt = Date.now();
  const expiresAtMs = startedAt + (input.expirySeconds ?? phoneContract.defaults.expirySeconds) * 1000;
  const state: PhoneVerificationState = {
    id: workflowInfo().workflowId,
    kind: 'phone',
    ...(input.client ? { client: input.client } : {}),
    status: 'pending',
    channelIndex: 0,
    channel: specs[0].channel,
    channels: specs.map((s): ChannelState => ({
      channel: s.channel,
      provider: s.provider,
      ...(s.gateway ? { gateway: s.gateway } : {}),
      timeoutSeconds: s.timeoutSeconds,
      status: 'waiting',
    })),
    attemptsLeft: input.maxCodeAttempts ?? phoneContract.defaults.maxCodeAttempts,
    ...(specs.some((s) => s.provider === 'sms_gateway')
      ? { resendsLeft: input.maxResends ?? phoneContract.defaults.otp.maxResends }
      : {}),
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
  /** Codes of ours issued so far (each send or resend is a new issue, bound into its HMAC). */
  let otpIssue = 0;
  /**
   * Codes are checked one at a time, whatever the provider, so each wrong one is counted before the next is looked at:
   * N parallel wrong codes cost at most `attemptsLeft` provider checks.
   */
  let checking = false;
  /** The nextChannel update whose send the main loop is making (its refusal by the abuse guard goes back to it). */
  let order: SendOrder | undefined;
  /** A resend the main loop is to make: a new code of ours on the current channel. */
  let resendOrder: SendOrder | undefined;
  /** The next send was already counted by the abuse guard (the REST API counted the first one before starting). */
  let nextSendCounted = input.firstSendCounted === true;
  /** The abuse guard's view of this run: the client and, per channel, the destination. */
  const guard = (index: number, counted = false): GuardParams => ({
    client: input.client ?? TEMPORAL_CALLER_CLIENT,
    to: specs[index].to,
    ...(counted ? { counted } : {}),
  });
  /** The guard params of the next send, consuming the "already counted" mark. */
  const sendGuard = (index: number): GuardParams => {
    const counted = nextSendCounted;
    nextSendCounted = false;
    return guard(index, counted);
  };

  const touch = (): void => {
    state.updatedAt = new Date().toISOString();
    tick++;
  };
  const finish = (status: VerificationStatus, reason: Reason): void => {
    if (isTerminal(state.status)) return;
    state.status = status;
    state.reason = reason;
    state.checkUrl = undefined;
    state.codeExpiresAt = undefined;
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
    state.codeExpiresAt = undefined;
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
    const via =
      spec.provider === 'sms_gateway'
        ? `sms_gateway ${state.channels[state.channelIndex].gateway ?? ''}`
        : spec.provider;
    return `${what}, channel ${state.channelIndex + 1} of ${specs.length} (${via.trim()}), expires ${expires} UTC`;
  };

  setHandler(phoneContract.messages.getState, () => state);

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

  setHandler(phoneContract.messages.providerEvent, (raw: ProviderEvent) => {
    // Signals cannot be rejected: a malformed one is logged and dropped.
    const parsed = shared.providerEvent().safeParse(raw);
    if (!parsed.success) {
      log.warn('malformed provider event dropped', { issues: formatIssues(parsed.error) });
      return;
    }
    const event = parsed.data;
    if (seenEvents.has(event.eventId)) return;
    seenEvents.add(event.eventId);
    if (isTerminal(state.status)) return;
    if (run?.otp) {
      // Our own code has no provider request: a provider event can only be about one we already left.
      log.info('provider event ignored (stale)', { status: event.status });
      return;
    }
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

  const rejectIfNotLive = (): void => rejectIfNotLiveStatus(state.status);

  /** The provider request is over (expired or ended there): move on to whatever channel follows it. */
  const requestOver = (current: ProviderRun): CheckCodeResult => {
    if (run === current) {
      failChannels(state.channelIndex, current.last);
      run = undefined;
    }
    return { status: 'expired', attemptsLeft: state.attemptsLeft };
  };

  const spendAttempt = (): CheckCodeResult => {
    state.attemptsLeft = Math.max(0, state.attemptsLeft - 1);
    touch();
    if (state.attemptsLeft === 0) {
      finish('failed', 'max_attempts');
      return { status: 'failed', attemptsLeft: 0, reason: 'max_attempts' };
    }
    return { status: 'invalid_code', attemptsLeft: state.attemptsLeft };
  };

  /** Checks a code against our own OTP: HMAC recomputed and compared in an activity (the key stays out of history). */
  const checkOwnCode = async (current: ProviderRun, otp: OwnOtp, code: string): Promise<CheckCodeResult> => {
    // Replaced (resend, next channel) or past its validity: this code no longer works; no attempt is spent on it.
    if (Date.now() >= otp.expiresAtMs) return { status: 'expired', attemptsLeft: state.attemptsLeft };
    const matches = await callOtp(
      'otpVerify',
      { ...PROVIDER_ACTIVITY_OPTIONS, summary: `check code (${state.channel})` },
      {
        hmac: otp.hmac,
        code,
        channelIndex: current.first,
        issue: otp.issue,
        guard: guard(current.first),
      },
    );
    if (isTerminal(state.status)) return terminalResult();
    if (!matches) return spendAttempt();
    if (run !== current) return { status: 'expired', attemptsLeft: state.attemptsLeft };
    run = undefined;
    finish('completed', 'verified');
    return { status: 'completed', attemptsLeft: state.attemptsLeft };
  };

  setHandler(
    phoneContract.messages.checkCode,
    async (req): Promise<CheckCodeResult> => {
      // The code can reach us before the activity that created its request has reported back: wait for it. Then wait
      // for our turn: one check at a time. (A condition wakes every waiter at once, so each looks again when it runs.)
      await condition(() => run !== undefined || isTerminal(state.status));
      while (checking && !isTerminal(state.status)) await condition(() => !checking || isTerminal(state.status));
      const current = run;
      if (!current || isTerminal(state.status)) return terminalResult();
      checking = true;
      try {
        return await checkWith(current, req);
      } catch (err) {
        // The abuse guard refused to check (too many failed checks for this destination): nothing was checked and no
        // attempt is spent; the caller is told when to come back.
        const refusal = findRefusal(err);
        if (refusal) throw rethrowRefusal(refusal);
        throw err;
      } finally {
        checking = false;
      }
    },
    {
      validator: (req) => {
        const r = phoneContract.schemas().checkCodeInput.safeParse(req);
        if (!r.success) throw new Error(formatIssues(r.error));
        rejectIfNotLive();
      },
    },
  );

  /** Checks a code against the current run: our own code, or the provider's request. */
  async function checkWith(current: ProviderRun, req: CheckCodeInput): Promise<CheckCodeResult> {
    if (current.otp) return checkOwnCode(current, current.otp, req.code);
    const onSilentAuth = specs[state.channelIndex]?.channel === 'silent_auth';
    if (onSilentAuth && req.requestId !== undefined && req.requestId !== current.requestId) {
      // Seed rule against man-in-the-middle: the redirect chain's request_id must be ours, else abort silent auth.
      // Without a requestId the code is not a silent-auth result (e.g. the SMS of a step the provider already
      // moved to, before its callback reached us): the provider judges it.
      log.warn('silent auth result for another request_id: silent auth aborted');
      advanceRequested = true;
      const result = spendAttempt();
      return { ...result, reason: result.reason ?? 'request_id_mismatch' };
    }
    const outcome = await call('vonageCheckCode', `check code (${state.channel})`, {
      requestId: current.requestId,
      code: req.code,
      guard: guard(state.channelIndex),
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
      case 'gone_after_retry':
        // Our lost earlier attempt may have completed the request: its `completed` callback would say so.
        await condition(() => isTerminal(state.status) || run !== current, COMPLETED_CALLBACK_GRACE_MS, {
          summary: 'wait for a completed callback',
        });
        if (isTerminal(state.status)) return terminalResult();
        return requestOver(current);
      case 'not_found':
        return requestOver(current);
      case 'code_not_supported':
        throw ApplicationFailure.create({
          type: FailureType.CodeNotSupported,
          message: `the ${state.channel} channel does not take a code now`,
          nonRetryable: true,
        });
    }
  }

  setHandler(
    phoneContract.messages.nextChannel,
    async () => {
      const from = state.channelIndex;
      const me: SendOrder = {};
      order = me;
      advanceRequested = true;
      touch();
      // Answer once the next channel is live (its request may have to be created first), or the run is over, or the
      // abuse guard refused the send (the run stays on its channel).
      await condition(
        () =>
          me.refused !== undefined ||
          isTerminal(state.status) ||
          (state.channelIndex !== from && state.channels[state.channelIndex]?.status === 'active'),
      );
      if (me.refused) throw rethrowRefusal(me.refused);
      return state;
    },
    { validator: rejectIfNotLive },
  );

  setHandler(
    phoneContract.messages.resend,
    async () => {
      const index = state.channelIndex;
      // The current code may still be on its way: the new one follows it.
      await condition(() => isTerminal(state.status) || state.channelIndex !== index || run?.first === index);
      const current = run;
      if (isTerminal(state.status) || state.channelIndex !== index || !current?.otp) return state;
      const previousIssue = current.otp.issue;
      state.resendsLeft = Math.max(0, (state.resendsLeft ?? 0) - 1);
      // The main loop sends a new code on the same channel; the old one stops working once the new one is out (or
      // keeps working when the abuse guard refuses the new send).
      const me: SendOrder = {};
      resendOrder = me;
      touch();
      await condition(
        () =>
          me.refused !== undefined ||
          isTerminal(state.status) ||
          state.channelIndex !== index ||
          (run?.otp !== undefined && run.otp.issue > previousIssue),
      );
      if (me.refused) {
        state.resendsLeft = (state.resendsLeft ?? 0) + 1;
        throw rethrowRefusal(me.refused);
      }
      return state;
    },
    {
      validator: () => {
        rejectIfNotLive();
        const spec = specs[state.channelIndex];
        if (spec?.provider !== 'sms_gateway') {
          throw ApplicationFailure.create({
            type: FailureType.ResendNotAvailable,
            message: `the ${state.channel} channel (${spec?.provider}) has no code of ours to resend`,
            nonRetryable: true,
          });
        }
        if ((state.resendsLeft ?? 0) <= 0) {
          throw ApplicationFailure.create({
            type: FailureType.ResendNotAvailable,
            message: 'no resends left',
            nonRetryable: true,
          });
        }
      },
    },
  );

  setCancelHandler(phoneContract.messages.cancel, state, () => {
    cancelRequested = true;
    touch();
  });

  /** What the search attributes last said, so a change of channel or status can be published while waiting. */
  let published = '';
  const snapshot = (): string => `${state.status}|${state.channel}|${state.channelIndex}`;
  const publish = (): void => {
    published = snapshot();
    upsertSearchAttributes([
      { key: SA_KIND, value: 'phone' },
      { key: SA_STATUS, value: state.status },
      { key: SA_CHANNEL, value: state.channel ?? '' },
      { key: SA_PROVIDER, value: specs[Math.min(state.channelIndex, specs.length - 1)].provider },
      { key: SA_PROVIDER_REF, value: [...providerRefs] },
      ...(input.client ? [{ key: SA_CLIENT, value: input.client }] : []),
    ]);
  };

  /**
   * The abuse guard refused a send: the update that asked for it is told (429) and the run stays as it was;
   * a send nobody asked for (the first one, a timer's fallback) ends the run `failed` / `rate_limited`.
   */
  const refused = (refusal: ApplicationFailure, who?: SendOrder): void => {
    log.warn('abuse guard refused a send', { type: refusal.type });
    if (who) {
      who.refused = refusal;
      touch();
    } else {
      finish('failed', 'rate_limited');
    }
  };

  /**
   * Issues a code of ours on an sms_gateway channel and sends it; falls back to the next channel when it cannot. On a
   * resend (`who`) the previous code keeps working until the new one is out.
   */
  const startOwnOtp = async (index: number, who?: SendOrder): Promise<void> => {
    const spec = specs[index];
    const issue = ++otpIssue;
    try {
      const sent = await callOtp('otpSend', `send code via ${spec.gateway ?? 'SMS gateway'}`, {
        gateway: spec.gateway,
        to: spec.to,
        brand: input.brand,
        templateName: input.messageTemplate,
        codeLength: input.codeLength,
        channelIndex: index,
        issue,
        guard: sendGuard(index),
      });
      const expiresAtMs = Date.now() + (input.codeValiditySeconds ?? phoneContract.defaults.otp.validitySeconds) * 1000;
      run = { requestId: `otp-${issue}`, first: index, last: index, otp: { hmac: sent.hmac, issue, expiresAtMs } };
      state.channels[index].gateway = sent.gateway;
      activate(index);
      state.codeExpiresAt = new Date(expiresAtMs).toISOString();
    } catch (err) {
      if (isCancellation(err)) throw err;
      const refusal = findRefusal(err);
      if (refusal) return refused(refusal, who);
      log.warn('SMS gateway send failed, falling back', { gateway: spec.gateway, type: failureType(err) });
      run = undefined;
      failChannels(index, index);
    }
  };

  /**
   * Starts one provider request for the channels from `index` on (up to 3 consecutive ones of that provider), or, on
   * an sms_gateway channel, a code of ours (`who`: the resend that asked for it).
   */
  const startRequest = async (index: number, who?: SendOrder): Promise<void> => {
    if (specs[index].provider === 'sms_gateway') return startOwnOtp(index, who);
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
      // Retried while the provider is down, within the input's budget and never past the verification's expiry.
      const budget = Math.min(
        input.providerRetrySeconds ?? phoneContract.defaults.providerRetrySeconds,
        (expiresAtMs - Date.now()) / 1000,
      );
      const summary = `start ${steps.map((s) => s.channel).join(' → ')}`;
      const created = await call(
        'vonageStartVerification',
        { ...providerSendOptions(budget), summary },
        {
          brand: input.brand,
          steps: steps.map((s) => ({ channel: s.channel, to: s.to })),
          codeLength: input.codeLength,
          locale: input.locale,
          // Our timers decide when to fall back; the provider's own channel timeout is only a backstop.
          channelTimeoutSeconds: Math.min(900, Math.max(15, ...steps.map((s) => s.timeoutSeconds + 30))),
          clientRef: id.length <= 40 ? id : undefined,
        },
        sendGuard(index),
      );
      run = { requestId: created.requestId, first: index, last };
      providerRefs.push(providerRef(provider, created.requestId));
      activate(index, created.checkUrl);
      for (const event of early.splice(0)) {
        if (run && event.ref === run.requestId && !isTerminal(state.status)) applyEvent(event, run);
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      const refusal = findRefusal(err);
      if (refusal) return refused(refusal);
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

  /**
   * Leaves the current channel: the provider's next step when it has one, else the next request. A move a caller asked
   * for (`who`, the nextChannel update) first reserves its send with the abuse guard, so a refusal leaves the run on
   * its channel; a timer's move is refused when its send is.
   */
  const advance = async (who?: SendOrder): Promise<void> => {
    const current = run;
    const from = state.channelIndex;
    if (current && from < current.last) {
      let moved: boolean;
      try {
        moved = await call(
          'vonageNextWorkflow',
          `next channel after ${specs[from].channel}`,
          current.requestId,
          sendGuard(from + 1),
        );
      } catch (err) {
        const refusal = findRefusal(err);
        if (!refusal) throw err;
        return refused(refusal, who);
      }
      if (isTerminal(state.status) || run !== current || state.channelIndex !== from) return;
      if (moved) {
        failChannels(from, from);
        activate(from + 1);
        return;
      }
    }
    if (who && from + 1 < specs.length) {
      try {
        await call('guardReserveSend', 'reserve the next send', guard(from + 1));
        nextSendCounted = true;
      } catch (err) {
        const refusal = findRefusal(err);
        if (!refusal) throw err;
        return refused(refusal, who);
      }
    }
    if (current) {
      run = undefined;
      if (!current.otp) {
        await call('vonageCancel', 'cancel provider request', current.requestId);
        if (isTerminal(state.status)) return;
      }
    }
    failChannels(from, from);
  };

  // A cancellation of the workflow itself (e.g. by a parent onboarding) ends it like the cancel update does.
  try {
    await mainLoop();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    finish('cancelled', 'cancelled');
  }
  // Leave nothing open at the provider, whatever ended the run (cancellation included).
  await CancellationScope.nonCancellable(async () => {
    if (run && state.status !== 'completed') {
      const leftover = run;
      run = undefined;
      if (!leftover.otp) await call('vonageCancel', 'cancel provider request', leftover.requestId);
    }
    setCurrentDetails(describe());
    publish();
    await condition(allHandlersFinished);
  });
  return state;

  async function mainLoop(): Promise<void> {
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
      if (!run || resendOrder) {
        const who = resendOrder;
        resendOrder = undefined;
        await startRequest(state.channelIndex, who);
        publish();
        continue;
      }
      if (advanceRequested) {
        advanceRequested = false;
        const who = order;
        order = undefined;
        await advance(who);
        continue;
      }
      if (Date.now() >= channelDeadline) {
        advanceRequested = true;
        continue;
      }
      // Keep VerificationChannel/Status current while the provider moves between its steps (runs that started
      // before this existed never published here: the patch keeps their replay identical).
      if (published !== snapshot() && patched('publish-channel-changes')) publish();
      setCurrentDetails(describe());
      const seen = tick;
      await condition(() => tick !== seen, Math.min(channelDeadline, expiresAtMs) - Date.now(), {
        summary: `${specs[state.channelIndex].channel} timeout`,
      });
    }
  }
}
