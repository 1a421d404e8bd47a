/**
 * THE contract of verifyflow, one module per workflow kind: each exports one descriptor (workflow type, workflow-ID
 * helper and pattern, input and result schemas, messages with their summaries, defaults) and the types of its
 * payloads; ./common.ts holds what they share, ./descriptor.ts how a kind is described. `WORKFLOW_CONTRACTS` lists
 * every descriptor: the API validates IDs, docs/CONTRACT.md is generated and the replay test checks histories by
 * iterating it.
 *
 * Deterministic and Node-free (workflow code imports it). Importing it builds no schema: each kind's `schemas()`
 * builds that kind's on its first call.
 */
import { eventDeliveryContract } from './events';
import { identityContract } from './identity';
import { identityRedactionContract } from './identity-redaction';
import { onboardingContract } from './onboarding';
import { phoneContract } from './phone';
import { pushContract } from './push';
import { pushEnrollmentContract } from './push-enrollment';
import { rateLimitContract } from './rate-limit';
import { smsDeliveryContract } from './sms-delivery';
import type { WorkflowContract } from './descriptor';

export * from './common';
export * from './descriptor';
export * from './phone';
export * from './push';
export * from './push-enrollment';
export * from './identity';
export * from './identity-redaction';
export * from './sms-delivery';
export * from './rate-limit';
export * from './onboarding';
export * from './events';
export * from './nexus';

/** Every workflow kind of the contract, in the order docs/CONTRACT.md presents them. */
export const WORKFLOW_CONTRACTS: readonly WorkflowContract[] = [
  phoneContract,
  pushContract,
  pushEnrollmentContract,
  identityContract,
  identityRedactionContract,
  smsDeliveryContract,
  rateLimitContract,
  onboardingContract,
  eventDeliveryContract,
];

/** The kinds served under `/v1/verifications/:id` (GET, cancel, and phone's check, next-channel and resend). */
export const VERIFICATION_CONTRACTS: readonly WorkflowContract[] = [phoneContract, pushContract, identityContract];

/** The descriptor of a workflow type, if it is one of ours. */
export const contractOfType = (type: string): WorkflowContract | undefined =>
  WORKFLOW_CONTRACTS.find((c) => c.type === type);
