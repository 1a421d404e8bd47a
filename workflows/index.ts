export { phoneVerification } from './phone/workflow';
export { pushVerification } from './push/workflow';
export { pushEnrollment } from './push/enrollment';
export { identityVerification } from './identity/workflow';
export { identityRedaction } from './identity/redaction';
export { smsDelivery } from './sms-delivery';
export { rateLimit } from './rate-limit';
export { onboarding } from './onboarding';
