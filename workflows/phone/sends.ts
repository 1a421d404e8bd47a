/**
 * What the phone workflow sends through the providers — start a provider request, send a code of ours, move to the
 * next channel, ask for a silent auth result — each an activity call whose answer goes through the pure transitions of
 * `state.ts` (the code checks: `checks.ts`). Deterministic (workflow bundle): the clock is the workflow's.
 */
import { isCancellation, log, workflowInfo, type ActivityOptions, type ApplicationFailure } from '@temporalio/workflow';
import type { createOtpActivities } from '../../activities/otp';
import type { createPhoneActivities } from '../../activities/phone';
import type { VonageStartParams } from '../../providers/vonage/verify';
import {
  activitiesWithSummaries,
  failureType,
  localActivitiesWithSummaries,
  findRefusal,
  isRetryable,
  PROVIDER_ACTIVITY_OPTIONS,
  providerSendOptions,
  TEMPORAL_CALLER_CLIENT,
  type GuardParams,
} from '../common';
import { FailureType, isTerminal } from '../contract/common';
import { phoneContract, type PhoneVerificationInput } from '../contract/phone';
import {
  activate,
  channelsBlocked,
  codeSent,
  failChannels,
  finish,
  planRun,
  requestCreated,
  requestOver,
  snaPending,
  twilioStarted,
  verified,
  type PhoneState,
} from './state';

// Time here is the workflow clock: Date.now() is deterministic inside the workflow sandbox.

/**
 * Sends through an HTTP SMS gateway: the adapter enforces the gateway's own timeout (30 s by default); three attempts,
 * then the channel falls back, so a gateway that hangs costs about 1.5 minutes at most. The send heartbeats while it
 * waits on the gateway, so a worker that dies mid-send is noticed within the heartbeat timeout and the retry (which
 * sends the same code again) follows at once instead of after the start-to-close timeout.
 */
const GATEWAY_ACTIVITY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '2m',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
};

const vonage = activitiesWithSummaries<ReturnType<typeof createPhoneActivities>>(PROVIDER_ACTIVITY_OPTIONS);
const otp = activitiesWithSummaries<ReturnType<typeof createOtpActivities>>(GATEWAY_ACTIVITY_OPTIONS);
/**
 * A Vonage start made inside the workflow task that asks for it (`PHONE_STARTS_PATCH`): one attempt. A retryable
 * failure (the provider down, a timeout) goes on as the activity, whose retries the server bounds by the run's budget.
 * The start's key (its run and its place in the run) tells every later attempt, and the start run again when its task
 * was lost (from attempt 1), that it began before: it counts no second send and takes over the request it made
 * (`vonageStartVerification`).
 */
const START_IN_TASK = localActivitiesWithSummaries<ReturnType<typeof createPhoneActivities>>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 1 },
});

/**
 * A caller's update (nextChannel, resend) the main loop serves: when the abuse guard refuses the send it needs, the
 * refusal is handed back to that update (the caller gets 429) and the run stays as it was.
 */
export interface SendOrder {
  refused?: ApplicationFailure;
}

/** What the sends share: the state, the input, the abuse guard's bookkeeping and the events held for a request. */
export class Sends {
  /** The next send was already counted by the abuse guard (the REST API counted the first one before starting). */
  private nextSendCounted: boolean;
  /** Vonage starts made so far in this run: the place of the next one in the run, part of its key. */
  private startsMade = 0;

  constructor(
    private readonly s: PhoneState,
    private readonly input: PhoneVerificationInput,
    /** Lets the provider callbacks that overtook the creation of the new request in (the inbox's held events). */
    private readonly releaseHeldEvents: () => void,
    /** Told of each refusal of the abuse guard (the verification metrics count them by scope). */
    private readonly onRefusal: (refusal: ApplicationFailure) => void = () => undefined,
    /**
     * Vonage starts are made inside the workflow task first (`START_IN_TASK`, `PHONE_STARTS_PATCH`). Twilio starts stay
     * activities, and so do our own code's sends, which heartbeat while a gateway is slow.
     */
    private readonly startsInTask = false,
  ) {
    this.nextSendCounted = input.firstSendCounted === true;
  }

  /** The abuse guard's view of channel `index`: the client (`temporal` for Temporal callers) and the destination. */
  guard(index: number, counted = false): GuardParams {
    return {
      client: this.input.client ?? TEMPORAL_CALLER_CLIENT,
      to: this.s.channels[index].to,
      ...(counted ? { counted } : {}),
    };
  }

  /** The guard params of the next send, consuming the "already counted" mark. */
  private sendGuard(index: number): GuardParams {
    const counted = this.nextSendCounted;
    this.nextSendCounted = false;
    return this.guard(index, counted);
  }

  /**
   * The abuse guard refused a send: the update that asked for it is told (429) and the run stays as it was; a send
   * nobody asked for (the first one, a timer's fallback) ends the run `failed` / `rate_limited`.
   */
  private refused(refusal: ApplicationFailure, who?: SendOrder): void {
    log.warn('abuse guard refused a send', { type: refusal.type });
    this.onRefusal(refusal);
    if (who) {
      who.refused = refusal;
      this.s.tick++;
    } else {
      finish(this.s, 'failed', 'rate_limited', Date.now());
    }
  }

  /** Starts what serves channel `index` on: a provider request, or (sms_gateway) a code of ours (`who`: a resend). */
  async start(index: number, who?: SendOrder): Promise<void> {
    if (this.s.channels[index].provider === 'sms_gateway') return this.sendOwnCode(index, who);
    if (this.s.channels[index].provider === 'twilio') return this.startTwilio(index);
    const { first, last } = planRun(this.s, index);
    const steps = this.s.channels.slice(first, last + 1);
    const id = workflowInfo().workflowId;
    try {
      const created = await this.startVonage(
        `start ${steps.map((c) => c.channel).join(' → ')}`,
        {
          brand: this.input.brand,
          steps: steps.map((c) => ({ channel: c.channel, to: c.to })),
          codeLength: this.input.codeLength,
          locale: this.input.locale,
          // Our timers decide when to fall back; the provider's own channel timeout is only a backstop.
          channelTimeoutSeconds: Math.min(900, Math.max(15, ...steps.map((c) => c.timeoutSeconds + 30))),
          clientRef: id.length <= 40 ? id : undefined,
        },
        this.sendGuard(first),
      );
      requestCreated(this.s, { requestId: created.requestId, first, last }, Date.now(), created.checkUrl);
      this.releaseHeldEvents();
    } catch (err) {
      if (isCancellation(err)) throw err;
      const refusal = findRefusal(err);
      if (refusal) return this.refused(refusal);
      const type = failureType(err);
      failChannels(this.s, first, last, Date.now());
      if (type === FailureType.InvalidDestination) finish(this.s, 'failed', 'invalid_destination', Date.now());
      else log.warn('provider request failed, falling back', { provider: 'vonage', type });
    }
  }

  /**
   * Creates the Vonage request: inside the workflow task first (`START_IN_TASK`), going on as the activity after a
   * retryable failure there; only as the activity in runs from before `PHONE_STARTS_PATCH`.
   */
  private async startVonage(summary: string, params: VonageStartParams, guard: GuardParams) {
    const budgeted = () => ({ ...providerSendOptions(this.retryBudget()), summary });
    if (!this.startsInTask) return vonage('vonageStartVerification', budgeted(), params, guard);
    const startKey = `${workflowInfo().runId}:${this.startsMade++}`;
    try {
      return await START_IN_TASK('vonageStartVerification', summary, params, guard, startKey);
    } catch (err) {
      if (isCancellation(err) || !isRetryable(err)) throw err;
      return vonage('vonageStartVerification', budgeted(), params, guard, startKey);
    }
  }

  /** How long a provider start is retried while the provider is down: the input's budget, never past the expiry. */
  private retryBudget(): number {
    return Math.min(
      this.input.providerRetrySeconds ?? phoneContract.defaults.providerRetrySeconds,
      (this.s.expiresAtMs - Date.now()) / 1000,
    );
  }

  /**
   * Starts a Twilio Verify verification on channel `index` (silent auth: its SNA URL becomes the check URL). A channel
   * Twilio will not deliver on (Fraud Guard, geo permissions) fails `blocked` at once; an invalid destination fails
   * the verification; anything else (down past the retry budget, its send limit) falls back to the next channel.
   */
  private async startTwilio(index: number): Promise<void> {
    const planned = this.s.channels[index];
    try {
      const started = await vonage(
        'twilioStartVerification',
        { ...providerSendOptions(this.retryBudget()), summary: `start ${planned.channel} (twilio)` },
        { channel: planned.channel, to: planned.to, brand: this.input.brand, locale: this.input.locale },
        this.sendGuard(index),
      );
      twilioStarted(this.s, { verificationSid: started.sid, index }, Date.now(), started.snaUrl);
    } catch (err) {
      if (isCancellation(err)) throw err;
      const refusal = findRefusal(err);
      if (refusal) return this.refused(refusal);
      const type = failureType(err);
      if (type === FailureType.ChannelBlocked) return channelsBlocked(this.s, index, index, Date.now());
      failChannels(this.s, index, index, Date.now());
      if (type === FailureType.InvalidDestination) finish(this.s, 'failed', 'invalid_destination', Date.now());
      else log.warn('provider request failed, falling back', { provider: 'twilio', type });
    }
  }

  /**
   * Asks Twilio for the silent auth result of the current run: approved completes the verification, pending asks
   * again later, a carrier that could not confirm the number (or a verification gone) moves to the next channel.
   */
  async pollSilentAuth(): Promise<void> {
    const s = this.s;
    const run = s.run;
    if (run?.kind !== 'twilio') return;
    let outcome: string;
    try {
      outcome = await vonage('twilioCheckSilentAuth', 'silent auth result (twilio)', {
        verificationSid: run.verificationSid,
        guard: this.guard(run.first),
      });
    } catch (err) {
      if (isCancellation(err)) throw err;
      // Twilio down past the activity's retries, or the abuse guard refusing checks for now: ask again later; the
      // channel's timeout bounds it.
      log.warn('silent auth result unavailable', { provider: 'twilio', type: failureType(err) });
      outcome = 'pending';
    }
    if (isTerminal(s.view.status) || s.run !== run) return;
    switch (outcome) {
      case 'completed':
        verified(s, run, Date.now());
        return;
      case 'pending':
        snaPending(s, run, Date.now());
        return;
      case 'not_found':
        requestOver(s, run, Date.now());
        return;
      default:
        // The carrier could not confirm the number: Twilio keeps the verification pending, so it is cancelled (a
        // Twilio channel after this one then starts a fresh verification instead of re-sending this one).
        log.warn('silent auth failed, falling back', { provider: 'twilio', outcome });
        s.run = undefined;
        failChannels(s, run.first, run.last, Date.now());
        await vonage('twilioCancel', 'cancel provider request', run.verificationSid);
    }
  }

  /**
   * Issues a code of ours on an sms_gateway channel and sends it; falls back to the next channel when it cannot. On a
   * resend (`who`) the previous code keeps working until the new one is out.
   */
  private async sendOwnCode(index: number, who?: SendOrder): Promise<void> {
    const planned = this.s.channels[index];
    const issue = ++this.s.otpIssue;
    try {
      const sent = await otp('otpSend', `send code via ${planned.gateway ?? 'SMS gateway'}`, {
        gateway: planned.gateway,
        to: planned.to,
        brand: this.input.brand,
        templateName: this.input.messageTemplate,
        codeLength: this.input.codeLength,
        channelIndex: index,
        issue,
        guard: this.sendGuard(index),
      });
      codeSent(
        this.s,
        {
          index,
          hmac: sent.hmac,
          issue,
          gateway: sent.gateway,
          validitySeconds: this.input.codeValiditySeconds ?? phoneContract.defaults.otp.validitySeconds,
        },
        Date.now(),
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      const refusal = findRefusal(err);
      if (refusal) return this.refused(refusal, who);
      log.warn('SMS gateway send failed, falling back', { gateway: planned.gateway, type: failureType(err) });
      this.s.run = undefined;
      failChannels(this.s, index, index, Date.now());
    }
  }

  /**
   * Leaves the current channel: the provider's next step when it has one, else the next run. A move a caller asked for
   * (`who`, the nextChannel update) first reserves its send with the abuse guard, so a refusal leaves the run on its
   * channel; a timer's move is refused when its send is.
   */
  async advance(who?: SendOrder): Promise<void> {
    const s = this.s;
    const current = s.run;
    const from = s.view.channelIndex;
    if (current?.kind === 'vonage' && from < current.last) {
      let moved: boolean;
      try {
        moved = await vonage(
          'vonageNextWorkflow',
          `next channel after ${s.channels[from].channel}`,
          current.requestId,
          this.sendGuard(from + 1),
        );
      } catch (err) {
        const refusal = findRefusal(err);
        if (!refusal) throw err;
        return this.refused(refusal, who);
      }
      if (isTerminal(s.view.status) || s.run !== current || s.view.channelIndex !== from) return;
      if (moved) {
        failChannels(s, from, from, Date.now());
        activate(s, from + 1, Date.now());
        return;
      }
    }
    if (who && from + 1 < s.channels.length) {
      try {
        await vonage('guardReserveSend', 'reserve the next send', this.guard(from + 1));
        this.nextSendCounted = true;
      } catch (err) {
        const refusal = findRefusal(err);
        if (!refusal) throw err;
        return this.refused(refusal, who);
      }
    }
    if (current) {
      s.run = undefined;
      if (current.kind === 'vonage') {
        await vonage('vonageCancel', 'cancel provider request', current.requestId);
        if (isTerminal(s.view.status)) return;
      } else if (current.kind === 'twilio') {
        await vonage('twilioCancel', 'cancel provider request', current.verificationSid);
        if (isTerminal(s.view.status)) return;
      }
    }
    failChannels(s, from, from, Date.now());
  }
}
