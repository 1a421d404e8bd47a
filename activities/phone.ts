import { activityInfo, log } from '@temporalio/activity';
import type { GuardParams } from '../workflows/common';
import { providerRef } from '../workflows/contract';
import { guardRefusal, type AbuseGuard } from './abuse-guard';
import type { VonageCheckOutcome, VonageStartParams, VonageVerify } from '../providers/vonage/verify';
import type { TwilioCheckOutcome, TwilioVerify, TwilioVerifyStartParams } from '../providers/twilio/verify';

/** What a code check tells the workflow: the provider's answer, or that a retried check found the request gone. */
export type PhoneCheckOutcome = VonageCheckOutcome | 'gone_after_retry';
import { requireDep } from './require-dep';

/**
 * Counts one send with the abuse guard before it is made, or throws its non-retryable refusal (`RateLimited`,
 * `DestinationNotAllowed`). Only a first attempt counts (a retry — `again` — is the same send), and nothing is counted
 * when the REST API already counted it (`counted`) or the worker runs without a guard. True when this call counted it.
 */
export async function countSend(
  guard: AbuseGuard | undefined,
  params: GuardParams | undefined,
  again = activityInfo().attempt > 1,
): Promise<boolean> {
  if (!guard || !params || params.counted || again) return false;
  const verdict = await guard.consumeSend(params.client, params.to);
  if (!verdict.allowed) throw guardRefusal(verdict);
  return true;
}

/**
 * Before a code is checked: the check is counted as a failed one in advance, or refused (nothing checked) when the
 * destination has used up its failed checks across verifications. Returns what to call with the answer (`settle`): a
 * code that was not wrong — right, or not judged — gives its point back. So no number of concurrent checks evaluates more wrong codes than the limit allows.
 */
export async function guardCheck(
  guard: AbuseGuard | undefined,
  params: GuardParams | undefined,
): Promise<(wrong: boolean) => Promise<void>> {
  if (!guard || !params) return async () => undefined;
  const verdict = await guard.reserveCheck(params.client, params.to);
  if (!verdict.allowed) throw guardRefusal(verdict);
  return async (wrong) => {
    if (!wrong) await guard.releaseCheck(params.client, params.to);
  };
}

/**
 * Whether this start may follow an earlier run of itself that sent: a retried attempt, or — for a start made inside a
 * workflow task (a local activity, `startKey` given), which starts again at attempt 1 when its task is lost — one whose
 * key the guard's store already holds (`startBegun`; noted here otherwise). A store error is thrown: the retry that
 * follows is an attempt 2.
 */
async function startedBefore(guard: AbuseGuard | undefined, startKey: string | undefined): Promise<boolean> {
  if (activityInfo().attempt > 1) return true;
  return startKey !== undefined && guard !== undefined && (await guard.startBegun(startKey));
}

/** Forgets a start's key (`forgetStart`); a store error is logged, and the refusal it follows is what is raised. */
async function forgetStart(guard: AbuseGuard | undefined, startKey: string): Promise<void> {
  try {
    await guard?.forgetStart(startKey);
  } catch (err) {
    log.warn('could not forget a refused start', { error: String(err) });
  }
}

/**
 * Notes in the guard's store that a check of ours completed provider request `ref`. Best effort: without the note the
 * provider's `completed` callback is signalled, as it always was, so a store error is logged, not raised (raising would
 * retry a check the provider has already completed).
 */
async function noteCompleted(guard: AbuseGuard | undefined, ref: string): Promise<void> {
  try {
    await guard?.noteCompletedByCheck(ref);
  } catch (err) {
    log.warn('could not note a completed check; its completed callback will be signalled', { ref, error: String(err) });
  }
}

/** Whether a check of ours completed `ref` earlier; a store error answers false (the workflow then waits for the callback). */
async function completedEarlier(guard: AbuseGuard | undefined, ref: string): Promise<boolean> {
  try {
    return (await guard?.completedByCheck(ref)) ?? false;
  } catch (err) {
    log.warn('could not ask whether an earlier check completed the request', { ref, error: String(err) });
    return false;
  }
}

/**
 * Activities of `phoneVerification`: thin calls into the Vonage and Twilio Verify adapters, which classify errors, each
 * send and check passing the abuse guard first. Destinations and codes are never logged.
 */
export const createPhoneActivities = (deps: {
  vonage?: VonageVerify;
  twilioVerify?: TwilioVerify;
  guard?: AbuseGuard;
}) => {
  const vonage = () => requireDep(deps.vonage, 'vonage');
  const twilio = () => requireDep(deps.twilioVerify, 'twilioVerify');
  return {
    /**
     * Creates one Vonage Verify v2 request whose workflow steps are the given channels. A retry whose earlier attempt
     * created the request but lost the answer (worker killed, timeout) meets a 409 naming that request: it takes it
     * over instead of failing the verification, so the message already sent is the one the user answers. A start made
     * inside a workflow task passes `startKey` (its run and its place in the run), so it is known as a retry even when
     * its task was lost and it starts again at attempt 1.
     */
    async vonageStartVerification(params: VonageStartParams, guard?: GuardParams, startKey?: string) {
      const again = await startedBefore(deps.guard, startKey);
      try {
        await countSend(deps.guard, guard, again);
      } catch (err) {
        // Refused: nothing was sent, so this start run again must count again.
        if (startKey && !again) await forgetStart(deps.guard, startKey);
        throw err;
      }
      const started = await vonage().startVerification(params, { adoptConcurrent: again });
      const steps = params.steps.map((s) => s.channel);
      if (started.adopted)
        log.warn('vonage request of an earlier attempt taken over', { requestId: started.requestId, steps });
      else log.info('vonage request created', { requestId: started.requestId, steps });
      return started;
    },

    /**
     * Checks a code against the provider request. A right code is noted in the guard's store
     * (`noteCompletedByCheck`), so the API need not signal Vonage's `completed` callback that follows: under load it
     * reached the run while the run's last workflow task was completing it, and the server failed that task.
     *
     * A check that finds the request gone (404) asks the same store whether an earlier check of ours completed it: then
     * the answer is `completed`. That earlier check may be this one's lost attempt, or, for a check run inside the
     * update's workflow task (a local activity), the same check in a workflow task that failed, which starts again at
     * attempt 1. Otherwise a retried attempt answers `gone_after_retry`, and the workflow waits briefly for a
     * `completed` callback (the earlier attempt may have lost its answer before it could note it) before treating the
     * request as over; a first attempt answers `not_found`.
     */
    async vonageCheckCode(params: {
      requestId: string;
      code: string;
      guard?: GuardParams;
    }): Promise<PhoneCheckOutcome> {
      const settle = await guardCheck(deps.guard, params.guard);
      let outcome: VonageCheckOutcome;
      try {
        outcome = await vonage().checkCode(params.requestId, params.code);
      } catch (err) {
        await settle(false); // not judged (an outage: the retry reserves again)
        throw err;
      }
      const ref = providerRef('vonage', params.requestId);
      // The note and the guard's settlement touch different keys: both at once, one round trip of waiting.
      await Promise.all([
        outcome === 'completed' ? noteCompleted(deps.guard, ref) : undefined,
        settle(outcome === 'invalid_code' || outcome === 'too_many_attempts'),
      ]);
      if (outcome !== 'not_found') return outcome;
      if (await completedEarlier(deps.guard, ref)) return 'completed';
      return activityInfo().attempt === 1 ? 'not_found' : 'gone_after_retry';
    },

    /** Moves the provider request to its next step (a send, counted); false when it has none (nothing counted). */
    async vonageNextWorkflow(requestId: string, guard?: GuardParams) {
      const counted = await countSend(deps.guard, guard);
      const moved = await vonage().nextWorkflow(requestId);
      if (!moved && counted) await deps.guard!.refundSend(guard!.client, guard!.to);
      return moved;
    },

    /**
     * Counts the send of a move the caller asked for before the current provider request is released, so a refusal
     * leaves the verification where it was (the next request then starts as already counted).
     */
    async guardReserveSend(guard: GuardParams) {
      await countSend(deps.guard, guard);
    },

    /** Cancels the provider request; false when it was already over. */
    async vonageCancel(requestId: string) {
      return vonage().cancel(requestId);
    },

    /**
     * Starts one Twilio Verify verification on one channel (a send, counted). A retry after a lost answer finds Twilio's
     * pending verification for the same destination, which sends the same code again (Twilio's own semantics).
     */
    async twilioStartVerification(params: TwilioVerifyStartParams, guard?: GuardParams) {
      const adapter = twilio(); // a worker without Twilio counts nothing
      await countSend(deps.guard, guard);
      const started = await adapter.startVerification(params);
      log.info('twilio verification created', { verificationSid: started.sid, channel: params.channel });
      return started;
    },

    /**
     * Checks a code against a Twilio verification, through the abuse guard like Vonage's. `not_found` (20404) means the
     * verification is over there — approved, expired or cancelled: the workflow's own state says which.
     */
    async twilioCheckCode(params: {
      verificationSid: string;
      code: string;
      guard?: GuardParams;
    }): Promise<TwilioCheckOutcome> {
      const settle = await guardCheck(deps.guard, params.guard);
      let outcome: TwilioCheckOutcome;
      try {
        outcome = await twilio().checkCode(params.verificationSid, params.code);
      } catch (err) {
        await settle(false);
        throw err;
      }
      await settle(outcome === 'invalid_code' || outcome === 'too_many_attempts');
      return outcome;
    },

    /**
     * Asks Twilio for the silent network auth result (a check without a code, through the abuse guard; never a wrong
     * code): `pending` until the device opened the SNA URL.
     */
    async twilioCheckSilentAuth(params: { verificationSid: string; guard?: GuardParams }): Promise<TwilioCheckOutcome> {
      const settle = await guardCheck(deps.guard, params.guard);
      try {
        return await twilio().checkSilentAuth(params.verificationSid);
      } finally {
        await settle(false);
      }
    },

    /** Cancels the Twilio verification; false when it was already over there. */
    async twilioCancel(verificationSid: string) {
      return twilio().cancel(verificationSid);
    },
  };
};
