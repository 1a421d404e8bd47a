import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { getEnrollmentState, pushEnrollmentId } from '../workflows/definitions';

/** Activities of `onboarding`: reading other verifyflow workflows through the worker's own Temporal client. */
export const createOnboardingActivities = () => ({
  /** Whether the push identity has a verified factor, from its `pushEnrollment` workflow (none yet = not verified). */
  async pushEnrollmentStatus(identity: string): Promise<{ verified: boolean; factorSid?: string }> {
    try {
      const state = await Context.current()
        .client.workflow.getHandle(pushEnrollmentId(identity))
        .query(getEnrollmentState);
      return { verified: state.verified, factorSid: state.factorSid };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { verified: false };
      throw err;
    }
  },
});
