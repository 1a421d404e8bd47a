import { Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { pushEnrollmentContract } from '../workflows/contract';
import type { PushChallengeParams, TwilioPush } from '../providers/twilio/push';
import { requireDep } from './require-dep';

/**
 * Activities of `pushVerification`: thin calls into the Twilio Verify Push adapter, which classifies errors.
 * Identities, messages and details are never logged (only SIDs and statuses).
 */
export const createPushActivities = (deps: { twilio?: TwilioPush }) => {
  const twilio = () => requireDep(deps.twilio, 'twilio');
  return {
    /** The identity's newest verified push factor SID, or null when it has none (null: JSON-safe in history). */
    async twilioNewestVerifiedFactor(identity: string): Promise<string | null> {
      const factor = await twilio().newestVerifiedFactor(identity);
      return factor?.sid ?? null;
    },

    /**
     * The factor a push verification may challenge, from the identity's `pushEnrollment` (never from Twilio's newest
     * factor, which anyone holding an access token could have enrolled): the given factor if it is approved, else the
     * newest approved one; null when there is none (no enrollment, or only factors pending approval).
     */
    async pushApprovedFactor(params: { identity: string; factorSid?: string }): Promise<string | null> {
      let factors;
      try {
        const state = await Context.current()
          .client.workflow.getHandle(pushEnrollmentContract.id(params.identity))
          .query(pushEnrollmentContract.messages.getState);
        factors = state.factors;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
      const approved = factors
        .filter((f) => f.status === 'verified')
        .sort((a, b) =>
          (b.approvedAt ?? b.verifiedAt ?? b.createdAt).localeCompare(a.approvedAt ?? a.verifiedAt ?? a.createdAt),
        );
      if (params.factorSid) return approved.some((f) => f.sid === params.factorSid) ? params.factorSid : null;
      return approved[0]?.sid ?? null;
    },

    /** Creates the one challenge of a push verification (Twilio sends its push notification). */
    async twilioCreateChallenge(params: PushChallengeParams) {
      const challenge = await twilio().createChallenge(params);
      log.info('twilio challenge created', { challengeSid: challenge.sid, factorSid: challenge.factorSid });
      return challenge;
    },

    /** The challenge's current status (polling when no webhook answers). */
    async twilioFetchChallenge(params: { identity: string; challengeSid: string }) {
      return twilio().fetchChallenge(params.identity, params.challengeSid);
    },

    /** Resends the push notification of the same challenge: 'sent', 'max_sends' or 'not_pending'. */
    async twilioResendNotification(params: { identity: string; challengeSid: string; ttlSeconds: number }) {
      const outcome = await twilio().resendNotification(params.identity, params.challengeSid, params.ttlSeconds);
      log.info('twilio notification resend', { challengeSid: params.challengeSid, outcome });
      return outcome;
    },
  };
};
