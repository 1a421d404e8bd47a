export { phoneVerification } from './phone-verification';
