import { activityInfo, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type IdentityDocumentOptions } from '../workflows/contract';
import type { StripeIdentity } from '../providers/stripe/identity';
import { requireDep } from './require-dep';

export interface CreateIdentitySessionParams {
  type: 'document' | 'id_number';
  options?: IdentityDocumentOptions;
  returnUrl?: string;
  reference: string;
}

/**
 * Activities of `identityVerification` and `identityRedaction`: thin calls into the Stripe Identity adapter, which
 * classifies errors. The client secret never passes through here; verified outputs only when the workflow asks.
 */
export const createIdentityActivities = (deps: { stripe?: StripeIdentity }) => {
  const stripe = () => requireDep(deps.stripe, 'stripe');
  return {
    /**
     * Creates the verification's one VerificationSession. The idempotency key is the workflow ID + run + step, so a
     * retried attempt whose first try Stripe accepted gets the same session back instead of a second one. The run id
     * is part of it because a later run under the same deterministic ID (a new verification of the same user within
     * Stripe's 24 h key lifetime) must get a session of its own, not the replayed answer of the old one.
     */
    async stripeCreateSession(params: CreateIdentitySessionParams) {
      const execution = activityInfo().workflowExecution;
      if (!execution) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          message: 'stripeCreateSession runs only from a workflow (its idempotency key is the workflow run)',
          nonRetryable: true,
        });
      }
      const { workflowId, runId } = execution;
      const session = await stripe().createSession({
        ...params,
        workflowId,
        idempotencyKey: `${workflowId}:${runId}:create`,
      });
      log.info('stripe verification session created', { sessionId: session.id, type: params.type });
      return session;
    },

    /** Reads the session (the truth when events may be stale); `expandOutputs` adds the verified outputs (PII). */
    async stripeRetrieveSession(sessionId: string, opts: { expandOutputs?: boolean } = {}) {
      return stripe().retrieveSession(sessionId, opts);
    },

    /** Cancels the session; false when its status does not allow it (processing, verified, canceled). */
    async stripeCancelSession(sessionId: string) {
      return stripe().cancelSession(sessionId);
    },

    /** Starts the redaction of the session. */
    async stripeRedactSession(sessionId: string) {
      const session = await stripe().redactSession(sessionId);
      log.info('stripe verification session redaction started', { sessionId, redaction: session.redactionStatus });
      return session;
    },
  };
};
