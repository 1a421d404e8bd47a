import { activityInfo, log } from '@temporalio/activity';
import type { VonageCheckOutcome, VonageStartParams, VonageVerify } from './providers/vonage';

/** What a code check tells the workflow: the provider's answer, or that a retried check found the request gone. */
export type PhoneCheckOutcome = VonageCheckOutcome | 'gone_after_retry';
import { requireDep } from './require-dep';

/**
 * Activities of `phoneVerification`: thin calls into the Vonage adapter, which classifies errors. Destinations and
 * codes are never logged.
 */
export const createPhoneActivities = (deps: { vonage?: VonageVerify }) => {
  const vonage = () => requireDep(deps.vonage, 'vonage');
  return {
    /**
     * Creates one Vonage Verify v2 request whose workflow steps are the given channels. A retry whose earlier attempt
     * created the request but lost the answer (worker killed, timeout) meets a 409 naming that request: it takes it
     * over instead of failing the verification, so the message already sent is the one the user answers.
     */
    async vonageStartVerification(params: VonageStartParams) {
      const started = await vonage().startVerification(params, { adoptConcurrent: activityInfo().attempt > 1 });
      const steps = params.steps.map((s) => s.channel);
      if (started.adopted)
        log.warn('vonage request of an earlier attempt taken over', { requestId: started.requestId, steps });
      else log.info('vonage request created', { requestId: started.requestId, steps });
      return started;
    },

    /**
     * Checks a code against the provider request. A retried check that finds the request gone (404) answers
     * `gone_after_retry`: the lost earlier attempt may be the one that completed it (Vonage ends a request whose code
     * was right), so the workflow waits briefly for the `completed` callback before treating it as over.
     */
    async vonageCheckCode(params: { requestId: string; code: string }): Promise<PhoneCheckOutcome> {
      const outcome = await vonage().checkCode(params.requestId, params.code);
      return outcome === 'not_found' && activityInfo().attempt > 1 ? 'gone_after_retry' : outcome;
    },

    /** Moves the provider request to its next step; false when it has none. */
    async vonageNextWorkflow(requestId: string) {
      return vonage().nextWorkflow(requestId);
    },

    /** Cancels the provider request; false when it was already over. */
    async vonageCancel(requestId: string) {
      return vonage().cancel(requestId);
    },
  };
};
