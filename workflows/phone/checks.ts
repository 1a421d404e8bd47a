/**
 * What the phone workflow does with a code: checks it against the current run — the provider's request (Vonage,
 * Twilio Verify) or our own code — and turns the answer into the run's next state through the pure transitions of
 * `state.ts`. Deterministic (workflow bundle): the clock is the workflow's.
 */
import { ApplicationFailure, condition, log } from '@temporalio/workflow';
import type { createOtpActivities } from '../../activities/otp';
import type { createPhoneActivities } from '../../activities/phone';
import {
  activitiesWithSummaries,
  localActivitiesWithSummaries,
  PROVIDER_ACTIVITY_OPTIONS,
  type GuardParams,
} from '../common';
import { FailureType, isTerminal } from '../contract/common';
import type { CheckCodeInput, CheckCodeResult } from '../contract/phone';
import {
  lockedOut,
  requestOver,
  spendAttempt,
  terminalResult,
  verified,
  type OwnOtpRun,
  type PhoneState,
  type Run,
  type TwilioRun,
} from './state';

// Time here is the workflow clock: Date.now() is deterministic inside the workflow sandbox.

/** How long a retried check that found its request gone waits for the `completed` callback of a lost attempt. */
const COMPLETED_CALLBACK_GRACE_MS = 10_000;

/** Provider checks as activities: Twilio's always, Vonage's in runs from before `PHONE_RELEASE_PATCH`. */
const providers = activitiesWithSummaries<ReturnType<typeof createPhoneActivities>>(PROVIDER_ACTIVITY_OPTIONS);

/**
 * Code checks made inside the check update's workflow task (`PHONE_RELEASE_PATCH`): the update is accepted, checked and
 * answered in one task, with no activity task and no second workflow task. Only the checks that are safe to run again
 * go this way, since a failed workflow task runs them again: Vonage's (a right code checked twice finds the request
 * gone, and the abuse guard's note says our check completed it) and our own code's (a keyed hash compared). Twilio's
 * stays an activity: a right code checked twice reads Twilio's 20404, which cannot tell approved from expired.
 */
const CHECKS_IN_TASK = {
  vonage: localActivitiesWithSummaries<ReturnType<typeof createPhoneActivities>>(PROVIDER_ACTIVITY_OPTIONS),
  otp: localActivitiesWithSummaries<ReturnType<typeof createOtpActivities>>(PROVIDER_ACTIVITY_OPTIONS),
};
/** The same checks as activities (runs from before `PHONE_RELEASE_PATCH`): our own code's with the provider options. */
const CHECKS_AS_ACTIVITIES: typeof CHECKS_IN_TASK = {
  vonage: providers,
  otp: activitiesWithSummaries<ReturnType<typeof createOtpActivities>>(PROVIDER_ACTIVITY_OPTIONS),
};

/** The code checks of one run. */
export class Checks {
  /** The callers of the Vonage and own-code checks: local activities or activities. */
  private readonly callers: typeof CHECKS_IN_TASK;

  constructor(
    private readonly s: PhoneState,
    /** The abuse guard's view of channel `index` (`Sends.guard`). */
    private readonly guard: (index: number) => GuardParams,
    /** Asks the main loop to leave the current channel (as a timeout would). */
    private readonly requestAdvance: () => void,
    /** Vonage and own-code checks run inside the update's workflow task (`PHONE_RELEASE_PATCH`). */
    inTask = false,
  ) {
    this.callers = inTask ? CHECKS_IN_TASK : CHECKS_AS_ACTIVITIES;
  }

  /** Checks a code against the current run: our own code, or the provider's request. */
  async check(current: Run, req: CheckCodeInput): Promise<CheckCodeResult> {
    if (current.kind === 'own_otp') return this.checkOwnCode(current, req.code);
    if (current.kind === 'twilio') return this.checkTwilio(current, req.code);
    const s = this.s;
    const onSilentAuth = s.channels[s.view.channelIndex]?.channel === 'silent_auth';
    if (onSilentAuth && req.requestId !== undefined && req.requestId !== current.requestId) {
      // Against man-in-the-middle (Vonage silent authentication guide): the redirect chain's request_id must be ours,
      // else silent auth is abandoned. Without a requestId the code is not a silent-auth result (e.g. the SMS of a
      // step the provider already moved to, before its callback reached us): the provider judges it.
      log.warn('silent auth result for another request_id: silent auth aborted');
      this.requestAdvance();
      const result = spendAttempt(s, Date.now());
      return { ...result, reason: result.reason ?? 'request_id_mismatch' };
    }
    const outcome = await this.callers.vonage('vonageCheckCode', `check code (${s.view.channel})`, {
      requestId: current.requestId,
      code: req.code,
      guard: this.guard(s.view.channelIndex),
    });
    if (isTerminal(s.view.status)) return terminalResult(s);
    switch (outcome) {
      case 'completed':
        return verified(s, current, Date.now());
      case 'invalid_code':
        return spendAttempt(s, Date.now());
      case 'too_many_attempts':
        return lockedOut(s, current, Date.now());
      case 'gone_after_retry':
        // Our lost earlier attempt may have completed the request: its `completed` callback would say so.
        await condition(() => isTerminal(s.view.status) || s.run !== current, COMPLETED_CALLBACK_GRACE_MS, {
          summary: 'wait for a completed callback',
        });
        if (isTerminal(s.view.status)) return terminalResult(s);
        return requestOver(s, current, Date.now());
      case 'not_found':
        return requestOver(s, current, Date.now());
      case 'code_not_supported':
        throw ApplicationFailure.create({
          type: FailureType.CodeNotSupported,
          message: `the ${s.view.channel} channel does not take a code now`,
          nonRetryable: true,
        });
    }
  }

  /**
   * Checks a code against the current Twilio verification. Twilio's 20404 (approved, expired or cancelled there) is
   * read against our own state: a verification we completed or left answers from that state; otherwise it is over
   * (expired), and the next channel follows.
   */
  private async checkTwilio(current: TwilioRun, code: string): Promise<CheckCodeResult> {
    const s = this.s;
    if (s.channels[current.first].channel === 'silent_auth') {
      throw ApplicationFailure.create({
        type: FailureType.CodeNotSupported,
        message: 'silent auth on twilio takes no code: it completes once the device has opened the check URL',
        nonRetryable: true,
      });
    }
    const outcome = await providers('twilioCheckCode', `check code (${s.view.channel})`, {
      verificationSid: current.verificationSid,
      code,
      guard: this.guard(current.first),
    });
    if (isTerminal(s.view.status)) return terminalResult(s);
    switch (outcome) {
      case 'completed':
        return verified(s, current, Date.now());
      case 'too_many_attempts':
        return lockedOut(s, current, Date.now());
      case 'invalid_code':
      case 'pending':
        return spendAttempt(s, Date.now());
      default:
        return requestOver(s, current, Date.now());
    }
  }

  /** Checks a code against our own OTP: HMAC recomputed and compared in an activity (the key stays out of history). */
  private async checkOwnCode(current: OwnOtpRun, code: string): Promise<CheckCodeResult> {
    const s = this.s;
    // Past its validity this code no longer works; no attempt is spent on it.
    if (Date.now() >= current.expiresAtMs) return { status: 'expired', attemptsLeft: s.view.attemptsLeft };
    const matches = await this.callers.otp('otpVerify', `check code (${s.view.channel})`, {
      hmac: current.hmac,
      code,
      channelIndex: current.first,
      issue: current.issue,
      guard: this.guard(current.first),
    });
    if (isTerminal(s.view.status)) return terminalResult(s);
    if (!matches) return spendAttempt(s, Date.now());
    // Replaced while it was checked (a resend, the next channel): it no longer counts.
    if (s.run !== current) return { status: 'expired', attemptsLeft: s.view.attemptsLeft };
    return verified(s, current, Date.now());
  }
}
