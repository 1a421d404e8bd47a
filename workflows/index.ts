export { phoneVerification } from './phone/workflow';
export { pushVerification } from './push-verification';
export { pushEnrollment } from './push-enrollment';
export { identityVerification, identityRedaction } from './identity-verification';
export { smsDelivery } from './sms-delivery';
export { rateLimit } from './rate-limit';
export { onboarding } from './onboarding';
