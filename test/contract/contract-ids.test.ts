import { isClientId } from '../../src/auth/ownership';
import {
  identityContract,
  identityRedactionContract,
  onboardingContract,
  phoneContract,
  pushContract,
  pushEnrollmentContract,
  rateLimitContract,
  smsDeliveryContract,
  VERIFICATION_CONTRACTS,
  WORKFLOW_CONTRACTS,
} from '../../workflows/contract';

/** Each descriptor's ID helper makes IDs its own pattern accepts, and the API's ownership check reads them alike. */
const RANDOM = '0123456789abcdef0123';

test.each([
  [phoneContract, phoneContract.id('user-42', 'acme')],
  [phoneContract, phoneContract.id(RANDOM, 'acme')],
  [phoneContract, phoneContract.id('a'.repeat(34))],
  [phoneContract, pushContract.helpers.fallbackId(pushContract.id('order.7:a', 'acme'))],
  [pushContract, pushContract.id('order.7:a', 'acme')],
  [
    pushEnrollmentContract,
    pushEnrollmentContract.id(pushEnrollmentContract.helpers.entityIdentity('user-0b7c1f52', 'acme')),
  ],
  [identityContract, identityContract.id('u'.repeat(64), 'acme')],
  [identityRedactionContract, identityRedactionContract.id('vs_1Nv0FGQ9RKHgCVdK')],
  [smsDeliveryContract, smsDeliveryContract.id('7afec5c63b3b42839e295d548a9b55a0')],
  [rateLimitContract, rateLimitContract.id('recipient', '7afec5c63b3b42839e295d548a9b55a0')],
  [onboardingContract, onboardingContract.id('user-42', 'acme')],
])('%#: %s matches its pattern and no other kind claims it', (contract, id) => {
  expect(id).toMatch(contract.idPattern);
  expect(WORKFLOW_CONTRACTS.filter((c) => c.idPattern.test(id))).toEqual([contract]);
});

test('push IDs never include enrollments; keys are bounded like references', () => {
  expect(pushContract.idPattern.test('push-enrollment-acme-user-0b7c1f52')).toBe(false);
  expect(phoneContract.idPattern.test(`phone-acme-${'a'.repeat(35)}`)).toBe(false);
  expect(phoneContract.idPattern.test('phone-acme-a b')).toBe(false);
  expect(identityContract.idPattern.test(`identity-${'u'.repeat(65)}`)).toBe(false);
});

test('an API client owns only IDs made for it, of the kinds it asks about', () => {
  expect(isClientId(phoneContract.id('ref', 'acme'), 'acme', VERIFICATION_CONTRACTS)).toBe(true);
  expect(isClientId(identityContract.id('ref', 'acme'), 'acme', VERIFICATION_CONTRACTS)).toBe(true);
  expect(isClientId(phoneContract.id('ref', 'acme'), 'other', VERIFICATION_CONTRACTS)).toBe(false);
  expect(isClientId(phoneContract.id('ref'), 'acme', VERIFICATION_CONTRACTS)).toBe(false);
  expect(isClientId('phone-acme-', 'acme', VERIFICATION_CONTRACTS)).toBe(false);
  expect(isClientId(onboardingContract.id('ref', 'acme'), 'acme', VERIFICATION_CONTRACTS)).toBe(false);
  expect(isClientId(onboardingContract.id('ref', 'acme'), 'acme', [onboardingContract])).toBe(true);
  const enrollment = pushEnrollmentContract.id(pushEnrollmentContract.helpers.entityIdentity('user-0b7c1f52', 'acme'));
  expect(isClientId(enrollment, 'enrollment', VERIFICATION_CONTRACTS)).toBe(false);
});

test('every message of every kind names its schemas, and the wire names are the contract', () => {
  for (const c of WORKFLOW_CONTRACTS) {
    const s = c.schemas();
    expect([s.input, s.result].every(Boolean)).toBe(true);
    for (const m of Object.values(c.messages)) {
      expect(m.summary.length).toBeGreaterThan(0);
      if (m.type !== 'signal') expect(m.result?.()).toBeDefined();
      if (m.type === 'signal') expect(m.input?.()).toBeDefined();
    }
  }
  const names = Object.fromEntries(
    WORKFLOW_CONTRACTS.map((c) => [c.type, Object.values(c.messages).map((m) => `${m.type} ${m.name}`)]),
  );
  expect(names).toEqual({
    phoneVerification: [
      'update checkCode',
      'update nextChannel',
      'update resend',
      'update started',
      'update cancel',
      'signal providerEvent',
      'query getState',
    ],
    pushVerification: ['update cancel', 'signal providerEvent', 'query getState'],
    pushEnrollment: ['update approveFactor', 'signal enrollmentRequested', 'signal providerEvent', 'query getState'],
    identityVerification: ['update cancel', 'update redact', 'signal providerEvent', 'query getState'],
    identityRedaction: ['update redact', 'signal providerEvent', 'query getState'],
    smsDelivery: ['update awaitAcceptance', 'signal providerEvent', 'query getState'],
    rateLimit: ['update acquire'],
    onboarding: ['update cancel', 'query getState'],
    eventDelivery: ['signal event', 'update redeliver', 'query getState'],
  });
});
