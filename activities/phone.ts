import { log } from '@temporalio/activity';
import type { VonageStartParams, VonageVerify } from './providers/vonage';
import { requireDep } from './require-dep';

/**
 * Activities of `phoneVerification`: thin calls into the Vonage adapter, which classifies errors. Destinations and
 * codes are never logged.
 */
export const createPhoneActivities = (deps: { vonage?: VonageVerify }) => {
  const vonage = () => requireDep(deps.vonage, 'vonage');
  return {
    /** Creates one Vonage Verify v2 request whose workflow steps are the given channels. */
    async vonageStartVerification(params: VonageStartParams) {
      const started = await vonage().startVerification(params);
      log.info('vonage request created', { requestId: started.requestId, steps: params.steps.map((s) => s.channel) });
      return started;
    },

    /** Checks a code against the provider request. */
    async vonageCheckCode(params: { requestId: string; code: string }) {
      return vonage().checkCode(params.requestId, params.code);
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
