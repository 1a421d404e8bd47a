import {
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createPhoneActivities } from '../../activities/phone';
import {
  activitiesWithSummaries,
  CLIENT_REF_MAX_LENGTH,
  createInbox,
  findRefusal,
  parseInput,
  PROVIDER_ACTIVITY_OPTIONS,
  publishChanged,
  rejectIfNotLive,
  rethrowRefusal,
  setCancelHandler,
  PHONE_RELEASE_PATCH,
  PHONE_STARTS_PATCH,
  tookReleasePatch,
} from '../common';
import {
  FailureType,
  formatIssues,
  isTerminal,
  SA_CHANNEL,
  SA_CLIENT,
  SA_KIND,
  SA_PROVIDER,
  SA_PROVIDER_REF,
  SA_STATUS,
  shared,
  type ProviderEvent,
} from '../contract/common';
import {
  phoneContract,
  type CheckCodeResult,
  type PhoneVerificationInput,
  type PhoneVerificationResult,
} from '../contract/phone';
import { PhoneMeter } from '../metrics';

const { cancel, checkCode, getState, nextChannel, providerEvent, resend, started } = phoneContract.messages;
import { verificationEvents } from '../events';
import { attributesOf, describe, snapshot } from './details';
import { Checks } from './checks';
import { Sends, type SendOrder } from './sends';
import {
  applyEvent,
  finish,
  initialState,
  isCurrent,
  isStale,
  nextStep,
  terminalResult,
  touch,
  type PhoneState,
} from './state';

// Time here is the workflow clock: Date.now() is deterministic inside the workflow sandbox.

/** The patch of one timer per channel and of search attributes upserted when they change (docs/PERFORMANCE.md). */
const FEWER_ACTIONS = 'fewer-billed-actions';

/** Vonage Verify v2 and Twilio Verify take codes of 4-10 letters or digits (ours are checked by us, up to 32). */
const PROVIDER_CODE = /^[A-Za-z0-9]{4,10}$/;

const vonage = activitiesWithSummaries<ReturnType<typeof createPhoneActivities>>(PROVIDER_ACTIVITY_OPTIONS);

/**
 * Verifies a phone number. The workflow owns the fallback: it groups consecutive channels of one provider into one
 * provider request (Vonage silent_auth → sms → voice), waits on each channel with its own timer, and moves on when a
 * channel fails, times out or the caller asks for the next channel (Vonage `next_workflow`, else a new request).
 * Codes arrive through the `checkCode` update; provider callbacks through the `providerEvent` signal.
 *
 * Channels of provider `sms_gateway` carry our own code through an HTTP SMS gateway: derived and sent by an activity
 * that returns only its keyed HMAC, checked by an activity in constant time, within the verification's attempts; a
 * `resend` or a new channel issues a new code and the old one stops working. One run can mix providers (Vonage silent
 * auth → our gateway's SMS → Vonage voice), and a channel listed twice with two providers falls back from one
 * provider to the other when the first is down. Every send and check passes the abuse guard (activities).
 *
 * Channels of provider `twilio` are served by Twilio Verify, one verification per channel (cancelled when the run
 * moves on). Twilio Verify has no status callback: what happens there is learned from checks — a code's check, and on
 * silent auth (Twilio `sna`, its URL handed out as `checkUrl`) a bounded series of result checks until the channel
 * times out.
 *
 * The transitions are the pure functions of `state.ts`; this driver wires the handlers, timers and activities.
 */
export async function phoneVerification(rawInput: PhoneVerificationInput): Promise<PhoneVerificationResult> {
  const input = parseInput(phoneContract.schemas().input, rawInput, 'phoneVerification');
  // The newest release first: a run that took it also took every earlier one (common.ts).
  const startsInTask = patched(PHONE_STARTS_PATCH);
  const checksInTask = startsInTask || patched(PHONE_RELEASE_PATCH);
  const release = checksInTask || tookReleasePatch();
  const s = initialState(input, workflowInfo().workflowId, Date.now());
  const meter = new PhoneMeter(s);
  // Outbound events of each status change, when the client has an events endpoint (never blocks this run).
  const events = verificationEvents(
    'verification',
    'phone',
    input,
    () => s.view,
    () => ({ to: input.to }),
    release,
  );
  // Provider callbacks: malformed ones and repeats dropped, those of requests we left dropped as stale, and those that
  // overtake the activity result naming their request held until that request is ours.
  const inbox = createInbox<ProviderEvent>({
    schema: shared.providerEvent(),
    isOver: () => isTerminal(s.view.status),
    route: (e) => (isCurrent(s, e) ? 'deliver' : isStale(s, e) ? { drop: 'provider event ignored (stale)' } : 'hold'),
    deliver: (e) => {
      applyEvent(s, e, Date.now());
      meter.observe();
    },
  });
  const asked = { cancel: false, advance: false, resend: false };
  const sends = new Sends(
    s,
    input,
    () => inbox.release(),
    (refusal) => meter.refused(refusal),
    startsInTask,
  );
  const checks = new Checks(
    s,
    (index) => sends.guard(index),
    () => {
      asked.advance = true;
    },
    checksInTask,
  );
  const d: Driver = {
    s,
    asked,
    orders: {},
    sends,
    published: '',
    firstSendMade: false,
    // Runs that started before these existed keep their commands (their histories have no marker). One patch for
    // both: every patch marker costs an upsert of TemporalChangeVersion (Temporal's core adds it) in every new run.
    fewerActions: release || patched(FEWER_ACTIONS),
    routeByRef: workflowInfo().workflowId.length > CLIENT_REF_MAX_LENGTH,
    meter,
  };

  setHandler(getState, () => s.view);
  // The REST start's update-with-start: the state once the first send was made (silent auth: with its check URL).
  setHandler(started, async () => {
    await condition(() => d.firstSendMade || isTerminal(s.view.status));
    return s.view;
  });
  setHandler(providerEvent, (raw: ProviderEvent) => inbox.receive(raw));
  setCheckCodeHandler(s, checks, meter);
  setMoveHandlers(d);
  setCancelHandler(cancel, s.view, () => {
    d.asked.cancel = true;
    touch(s, Date.now());
  });

  // A cancellation of the workflow itself (e.g. by a parent onboarding) ends it like the cancel update does.
  try {
    await mainLoop(d);
  } catch (err) {
    if (!isCancellation(err)) throw err;
    finish(s, 'cancelled', 'cancelled', Date.now());
  }
  // Leave nothing open at the provider, whatever ended the run (cancellation included).
  await CancellationScope.nonCancellable(async () => {
    const leftover = s.run;
    if (leftover && s.view.status !== 'completed') {
      s.run = undefined;
      if (leftover.kind === 'vonage') await vonage('vonageCancel', 'cancel provider request', leftover.requestId);
      else if (leftover.kind === 'twilio') {
        await vonage('twilioCancel', 'cancel provider request', leftover.verificationSid);
      }
    }
    setCurrentDetails(describe(s));
    if (d.fewerActions) publishChanged(attributesOf(s, true));
    else publish(d);
    if (!allHandlersFinished()) await condition(allHandlersFinished);
    await events.end();
  });
  meter.ended();
  return s.view;
}

/** What the driver's pieces share: the state, what callers asked for, the sends, the search attributes' snapshot. */
interface Driver {
  s: PhoneState;
  asked: { cancel: boolean; advance: boolean; resend: boolean };
  /** The nextChannel update whose send the main loop is making, and the resend it is to make. */
  orders: { next?: SendOrder; resend?: SendOrder };
  sends: Sends;
  /** What the search attributes last said, so a change of channel or status can be published while waiting. */
  published: string;
  /** The first send was made (created, refused or failed over): what the `started` update waits for. */
  firstSendMade: boolean;
  /**
   * One timer per channel deadline, re-armed only when the deadline changes (else: one per wake-up), and search
   * attributes upserted only when they change (else: after every provider request, and whenever they moved).
   */
  fewerActions: boolean;
  /** The timer armed for the current deadline (`fewerActions`); `fired` once it went off. */
  timer?: { until: number; fired: boolean; scope: CancellationScope };
  /** The workflow ID does not fit Vonage's client_ref: callbacks are routed by VerificationProviderRef. */
  routeByRef: boolean;
  meter: PhoneMeter;
}

/** Upserts the search attributes (kind, status, channel, provider, provider refs, client; never PII). Older runs. */
function publish(d: Driver): void {
  const s = d.s;
  d.published = snapshot(s);
  upsertSearchAttributes([
    { key: SA_KIND, value: 'phone' },
    { key: SA_STATUS, value: s.view.status },
    { key: SA_CHANNEL, value: s.view.channel ?? '' },
    { key: SA_PROVIDER, value: s.channels[Math.min(s.view.channelIndex, s.channels.length - 1)].provider },
    { key: SA_PROVIDER_REF, value: [...s.providerRefs] },
    ...(s.view.client ? [{ key: SA_CLIENT, value: s.view.client }] : []),
  ]);
}

/** Runs the steps `nextStep` decides until the verification is over. */
async function mainLoop(d: Driver): Promise<void> {
  const s = d.s;
  while (!isTerminal(s.view.status)) {
    d.meter.observe();
    // A timer that went off means its deadline has passed, whatever the clock's rounding.
    const now = d.timer?.fired ? Math.max(Date.now(), d.timer.until) : Date.now();
    const step = nextStep(s, d.asked, now);
    switch (step.kind) {
      case 'end':
        finish(s, step.status, step.reason, Date.now());
        return;
      case 'start': {
        const who = d.orders.resend;
        d.orders.resend = undefined;
        d.asked.resend = false;
        await d.sends.start(step.index, who);
        d.firstSendMade = true;
        // A callback of this request can only be routed by its ref when the ID does not fit client_ref: publish it
        // now. Everything else is published when the run waits, if it changed.
        if (!d.fewerActions) publish(d);
        else if (d.routeByRef) publishChanged(attributesOf(s, true));
        continue;
      }
      case 'advance': {
        d.asked.advance = false;
        const who = d.orders.next;
        d.orders.next = undefined;
        await d.sends.advance(who);
        continue;
      }
      case 'timed_out':
        d.asked.advance = true;
        continue;
      case 'poll':
        await d.sends.pollSilentAuth();
        continue;
      case 'wait': {
        // Keep VerificationChannel/Status current while the provider moves between its steps (runs that started
        // before this existed never published here: the patch keeps their replay identical).
        if (d.fewerActions) publishChanged(attributesOf(s, d.routeByRef));
        else if (d.published !== snapshot(s) && patched('publish-channel-changes')) publish(d);
        setCurrentDetails(describe(s));
        const seen = s.tick;
        const summary = `${s.channels[s.view.channelIndex].channel} timeout`;
        if (d.fewerActions) {
          arm(d, step.untilMs, summary);
          await condition(() => s.tick !== seen);
        } else {
          await condition(() => s.tick !== seen, step.untilMs - Date.now(), { summary });
        }
      }
    }
  }
}

/**
 * Starts the timer of deadline `untilMs` unless it is the one already armed (a wrong code, a callback or a resend wake
 * the loop without moving the deadline: no new timer, each is a billed action). A new deadline cancels the old timer.
 * When it goes off it wakes the loop, which then finds the deadline passed.
 */
function arm(d: Driver, untilMs: number, summary: string): void {
  if (d.timer && d.timer.until === untilMs) return;
  d.timer?.scope.cancel();
  const timer = { until: untilMs, fired: false, scope: new CancellationScope() };
  d.timer = timer;
  timer.scope
    .run(() => sleep(Math.max(1, untilMs - Date.now()), { summary }))
    .then(
      () => {
        timer.fired = true;
        d.s.tick++;
      },
      () => undefined, // cancelled: the deadline moved, or the run ended
    );
}

/**
 * `nextChannel` and `resend`: each asks the main loop for a send and answers once it is made — or with the abuse
 * guard's refusal, the run staying as it was (a resend's previous code keeps working).
 */
function setMoveHandlers(d: Driver): void {
  const s = d.s;
  setHandler(
    nextChannel,
    async () => {
      const from = s.view.channelIndex;
      const me: SendOrder = {};
      d.orders.next = me;
      d.asked.advance = true;
      d.meter.nextChannelRequested();
      touch(s, Date.now());
      // Answer once the next channel is live (its run may have to be created first), or the run is over, or refused.
      await condition(
        () =>
          me.refused !== undefined ||
          isTerminal(s.view.status) ||
          (s.view.channelIndex !== from && s.view.channels[s.view.channelIndex]?.status === 'active'),
      );
      if (me.refused) throw rethrowRefusal(me.refused);
      return s.view;
    },
    { validator: () => rejectIfNotLive(s.view.status) },
  );
  setHandler(
    resend,
    async () => {
      const index = s.view.channelIndex;
      // The current code may still be on its way: the new one follows it.
      await condition(() => isTerminal(s.view.status) || s.view.channelIndex !== index || s.run?.first === index);
      const current = s.run;
      if (isTerminal(s.view.status) || s.view.channelIndex !== index || current?.kind !== 'own_otp') return s.view;
      s.view.resendsLeft = Math.max(0, (s.view.resendsLeft ?? 0) - 1);
      const me: SendOrder = {};
      d.orders.resend = me;
      d.asked.resend = true;
      touch(s, Date.now());
      await condition(
        () =>
          me.refused !== undefined ||
          isTerminal(s.view.status) ||
          s.view.channelIndex !== index ||
          (s.run?.kind === 'own_otp' && s.run.issue > current.issue),
      );
      if (me.refused) {
        s.view.resendsLeft = (s.view.resendsLeft ?? 0) + 1;
        throw rethrowRefusal(me.refused);
      }
      return s.view;
    },
    { validator: () => validateResend(s) },
  );
}

/**
 * `checkCode`: one check at a time whatever the provider, so each wrong code is counted before the next is looked at
 * (N parallel wrong codes cost at most `attemptsLeft` provider checks).
 */
function setCheckCodeHandler(s: PhoneState, checks: Checks, meter: PhoneMeter): void {
  let checking = false;
  setHandler(
    checkCode,
    async (req): Promise<CheckCodeResult> => {
      // The code can reach us before the activity that created its request has reported back: wait for it. Then wait
      // for our turn. (A condition wakes every waiter at once, so each looks again when it runs.)
      // (A condition that already holds is not awaited: each one costs the SDK's promise hook several stacks.)
      const known = () => s.run !== undefined || isTerminal(s.view.status);
      if (!known()) await condition(known);
      while (checking && !isTerminal(s.view.status)) await condition(() => !checking || isTerminal(s.view.status));
      const current = s.run;
      if (!current || isTerminal(s.view.status)) return terminalResult(s);
      checking = true;
      try {
        return meter.checked(await checks.check(current, req));
      } catch (err) {
        // The abuse guard refused to check (too many failed checks for this destination): nothing was checked and no
        // attempt is spent; the caller is told when to come back.
        const refusal = findRefusal(err);
        if (refusal) throw rethrowRefusal(meter.refused(refusal));
        throw err;
      } finally {
        checking = false;
      }
    },
    {
      validator: (req) => {
        const r = phoneContract.schemas().checkCodeInput.safeParse(req);
        if (!r.success) throw new Error(formatIssues(r.error));
        // A run that ended verified answers a check with `completed` until it closes, as it answers the checks that
        // waited behind the one that verified it. Such a check can be our own, sent again: a check runs inside its
        // update's workflow task, and when that task is lost (its worker died) the server hands the update to the
        // next task, after the `completed` callback that ended the run meanwhile. Any other ending is refused.
        if (s.view.status !== 'completed') rejectIfNotLive(s.view.status);
        // A code the provider would refuse as malformed is named here (400), not sent to fail as an activity.
        const provider = s.channels[s.view.channelIndex]?.provider;
        if ((provider === 'vonage' || provider === 'twilio') && !PROVIDER_CODE.test(r.data.code)) {
          throw new Error('code: must be 4-10 letters or digits on this channel');
        }
      },
    },
  );
}

/** `resend` only on a channel of ours with resends left (rejected before history otherwise). */
function validateResend(s: PhoneState): void {
  rejectIfNotLive(s.view.status);
  const planned = s.channels[s.view.channelIndex];
  if (planned?.provider !== 'sms_gateway') {
    throw ApplicationFailure.create({
      type: FailureType.ResendNotAvailable,
      message: `the ${s.view.channel} channel (${planned?.provider}) has no code of ours to resend`,
      nonRetryable: true,
    });
  }
  if ((s.view.resendsLeft ?? 0) <= 0) {
    throw ApplicationFailure.create({
      type: FailureType.ResendNotAvailable,
      message: 'no resends left',
      nonRetryable: true,
    });
  }
}
