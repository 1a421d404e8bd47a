import type { AbuseGuard } from './abuse-guard';
import { createEventActivities, type EventEndpoints } from './events';
import type { MessageTemplates } from './message-templates';
import { createOnboardingActivities } from './onboarding';
import { createPhoneActivities } from './phone';
import type { VonageVerify } from '../providers/vonage/verify';
import { createPushActivities } from './push';
import type { TwilioPush } from '../providers/twilio/push';
import type { TwilioVerify } from '../providers/twilio/verify';
import { createIdentityActivities } from './identity';
import type { StripeIdentity } from '../providers/stripe/identity';
import { createOtpActivities, type OtpKey } from './otp';
import { createSmsDeliveryActivities } from './sms-delivery';
import type { SmsGateways } from '../providers/sms-gateway/http-gateways';
import type { VonageSms } from '../providers/vonage/sms';

/**
 * Everything the activities need, built once per worker from config (see VerificationPlugin). Each provider is
 * optional: a worker without a provider's credentials still runs the other verifications, and an activity of the
 * missing provider fails with a non-retryable `ProviderNotConfigured`.
 */
export interface ActivityDeps {
  vonage?: VonageVerify;
  twilio?: TwilioPush;
  /** Twilio Verify's Verifications (phone channels of provider `twilio`); same account and service as Push. */
  twilioVerify?: TwilioVerify;
  stripe?: StripeIdentity;
  /** HTTP SMS gateways (sms_gateway channels and smsDelivery routes). */
  smsGateways?: SmsGateways;
  /** The key of our own OTP HMACs (never in history). */
  otp?: OtpKey;
  /** The Vonage SMS API (smsDelivery routes, with delivery receipts). */
  vonageSms?: VonageSms;
  /** Counts every send and failed check (shared by every replica); without it nothing is limited at the worker. */
  guard?: AbuseGuard;
  /** Named SMS texts of our own OTP (the client's and the gateways'); without it only `default`. */
  templates?: MessageTemplates;
  /** The API clients' events endpoints and signing secrets (outbound events); without it no event is delivered. */
  events?: EventEndpoints;
}

/** All verifyflow activities, keyed by the names the workflows call. */
export const createActivities = (deps: ActivityDeps) => ({
  ...createPhoneActivities(deps),
  ...createPushActivities(deps),
  ...createIdentityActivities(deps),
  ...createOtpActivities(deps),
  ...createSmsDeliveryActivities(deps),
  ...createOnboardingActivities(),
  ...createEventActivities(deps),
});

export type Activities = ReturnType<typeof createActivities>;
