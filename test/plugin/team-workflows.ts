// A platform team's own workflows module: theirs plus ours (re-exported), in one worker.
import { executeChild } from '@temporalio/workflow';
import { phoneVerification } from '../../workflows';
import { phoneContract, type PhoneVerificationInput, type PhoneVerificationResult } from '../../workflows/contract';

export * from '../../workflows';

/** A team's onboarding step that runs our phone verification as a child workflow. */
export async function teamSignup(input: { userId: string; phone: PhoneVerificationInput }): Promise<{
  userId: string;
  phone: PhoneVerificationResult;
}> {
  const phone = await executeChild(phoneVerification, {
    workflowId: phoneContract.id(input.userId),
    args: [input.phone],
  });
  return { userId: input.userId, phone };
}
