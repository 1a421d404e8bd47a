import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { pushEnrollmentContract } from '../workflows/contract';

/** Activities of `onboarding`: reading other verifyflow workflows through the worker's own Temporal client. */
export const createOnboardingActivities = () => ({
  /** Whether the push identity has a verified factor, from its `pushEnrollment` workflow (none yet = not verified). */
  async pushEnrollmentStatus(identity: string): Promise<{ verified: boolean; factorSid?: string }> {
    try {
      const state = await Context.current()
        .client.workflow.getHandle(pushEnrollmentContract.id(identity))
        .query(pushEnrollmentContract.messages.getState);
      return { verified: state.verified, factorSid: state.factorSid };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { verified: false };
      throw err;
    }
  },
});
