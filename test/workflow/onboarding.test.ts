import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { StripeCreateSessionParams, StripeIdentity, StripeSessionSnapshot } from '../../providers/stripe/identity';
import type { VonageStartParams, VonageVerify } from '../../providers/vonage/verify';
import {
  identityContract,
  onboardingContract,
  phoneContract,
  SA_STATUS,
  type OnboardingResult,
} from '../../workflows/contract';
import { identityVerification } from '../../workflows/identity/workflow';
import { onboarding } from '../../workflows/onboarding';
import { phoneVerification } from '../../workflows/phone/workflow';
import { saveHistory } from '../support/histories';
import { eventually } from '../support/stack';
import { startFakeWorker, type FakeWorker } from '../support/fake-worker';

/**
 * `onboarding` started by a Temporal caller (no REST API in front to refuse it with 409) while one of its steps'
 * verifications is already running: the onboarding ends `failed` with `<step>:step_already_running`, its state and
 * search attribute say so, and the running verification is left alone. Providers are typed fakes.
 */
const vonage: jest.Mocked<VonageVerify> = {
  startVerification: jest.fn<ReturnType<VonageVerify['startVerification']>, [VonageStartParams]>(),
  checkCode: jest.fn<ReturnType<VonageVerify['checkCode']>, [string, string]>(),
  nextWorkflow: jest.fn<Promise<boolean>, [string]>(),
  cancel: jest.fn<Promise<boolean>, [string]>(),
};
const session = (id: string): StripeSessionSnapshot => ({
  id,
  status: 'requires_input',
  lastErrorCode: null,
  lastErrorMessage: null,
  reportId: null,
  redactionStatus: null,
});
const stripe: jest.Mocked<StripeIdentity> = {
  createSession: jest.fn<Promise<StripeSessionSnapshot>, [StripeCreateSessionParams]>(),
  retrieveSession: jest.fn(),
  cancelSession: jest.fn<Promise<boolean>, [string]>(),
  redactSession: jest.fn(),
  clientSecret: jest.fn(),
};

let client: Client;
let fakeWorker: FakeWorker;
const taskQueue = `onboarding-wf-test-${randomUUID()}`;

beforeAll(async () => {
  fakeWorker = await startFakeWorker({ vonage, stripe }, taskQueue);
  client = fakeWorker.client;
});
afterAll(async () => {
  await fakeWorker?.stop();
});
beforeEach(() => {
  jest.resetAllMocks();
  vonage.startVerification.mockImplementation(async () => ({ requestId: `req-${randomUUID()}` }));
  vonage.checkCode.mockImplementation(async (_id, code) => (code === '1234' ? 'completed' : 'invalid_code'));
  vonage.cancel.mockResolvedValue(true);
  stripe.createSession.mockImplementation(async () => session(`vs_${randomUUID().replace(/-/g, '')}`));
  stripe.cancelSession.mockResolvedValue(true);
});

const PHONE = { to: '+14155550100', brand: 'Acme', channels: [{ channel: 'sms' as const }] };
const startOnboarding = (reference: string) =>
  client.workflow.start(onboarding, {
    workflowId: `onboarding-${reference}`,
    taskQueue,
    args: [{ reference, phone: PHONE, identity: { type: 'document' } }],
  });

test('the phone step already running: the onboarding ends failed (phone:step_already_running) and leaves it alone', async () => {
  const reference = `onb-${randomUUID().slice(0, 8)}`;
  const phone = await client.workflow.start(phoneVerification, {
    workflowId: phoneContract.id(reference),
    taskQueue,
    args: [{ ...PHONE, reference }],
  });
  const handle = await startOnboarding(reference);
  const result = (await handle.result()) as OnboardingResult;
  expect(result).toMatchObject({ status: 'failed', reason: 'phone:step_already_running' });
  expect(result.steps.map((s) => [s.name, s.status, s.reason])).toEqual([
    ['phone', 'failed', 'step_already_running'],
    ['identity', 'skipped', undefined],
  ]);
  expect(result.results).toEqual({});
  // The state a reader sees afterwards, and the search attribute, say the same (not `running` / `pending`).
  expect((await handle.query(onboardingContract.messages.getState)).steps[0].status).toBe('failed');
  expect((await handle.describe()).typedSearchAttributes.get(SA_STATUS)).toBe('failed');
  // The verification that was already running is not the onboarding's child and goes on undisturbed.
  const running = await phone.describe();
  expect(running.status.name).toBe('RUNNING');
  expect(running.parentExecution).toBeUndefined();
  expect(vonage.startVerification).toHaveBeenCalledTimes(1);
  await saveHistory('onboarding-step-already-running-release', handle);
  await phone.executeUpdate(phoneContract.messages.cancel, { args: [{}] });
});

test('the identity step already running: phone completes, then the onboarding ends failed (identity:step_already_running)', async () => {
  const reference = `onb-${randomUUID().slice(0, 8)}`;
  const identity = await client.workflow.start(identityVerification, {
    workflowId: identityContract.id(reference),
    taskQueue,
    args: [{ type: 'document', reference }],
  });
  const handle = await startOnboarding(reference);
  const phone = client.workflow.getHandle(phoneContract.id(reference));
  await eventually(async () => vonage.startVerification.mock.calls.length === 1);
  expect(await phone.executeUpdate(phoneContract.messages.checkCode, { args: [{ code: '1234' }] })).toMatchObject({
    status: 'completed',
  });
  const result = (await handle.result()) as OnboardingResult;
  expect(result).toMatchObject({ status: 'failed', reason: 'identity:step_already_running' });
  expect(result.steps.map((s) => [s.name, s.status])).toEqual([
    ['phone', 'completed'],
    ['identity', 'failed'],
  ]);
  expect(result.results.phone).toMatchObject({ status: 'completed' });
  expect((await identity.describe()).status.name).toBe('RUNNING');
  expect(stripe.createSession).toHaveBeenCalledTimes(1);
  await identity.executeUpdate(identityContract.messages.cancel, { args: [{}] });
});
