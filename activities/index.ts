import { createPhoneActivities } from './phone';
import type { VonageVerify } from './providers/vonage';

/**
 * Everything the activities need, built once per worker from config (see VerificationPlugin). Each provider is
 * optional: a worker without a provider's credentials still runs the other verifications, and an activity of the
 * missing provider fails with a non-retryable `ProviderNotConfigured`.
 */
export interface ActivityDeps {
  vonage?: VonageVerify;
}

/** All verifyflow activities, keyed by the names the workflows call. */
export const createActivities = (deps: ActivityDeps) => ({
  ...createPhoneActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
