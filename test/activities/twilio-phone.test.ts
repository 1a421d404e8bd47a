import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import express from 'express';
import type { AbuseGuard, GuardVerdict } from '../../activities/abuse-guard';
import { createPhoneActivities } from '../../activities/phone';
import { TwilioVerifyAdapter, type TwilioVerificationStarted } from '../../providers/twilio/verify';
import { Outbox } from '../../sandbox/outbox';
import { TwilioVerificationsEmulator } from '../../sandbox/twilio-verifications-emulator';
import { FailureType } from '../../workflows/contract';

/**
 * The Twilio Verify activities of `phoneVerification` against the emulator through the real adapter, with a recording
 * abuse guard: every send is counted before it is made (once, not again on a retry) and a refused one sends nothing;
 * every check — a code's or silent auth's — reserves a failed check first, given back unless the code was wrong.
 */
const ACCOUNT_SID = 'AC33333333333333333333333333333333';
const AUTH_TOKEN = 'activity-test-auth-token-0123456789';
const SERVICE_SID = 'VA44444444444444444444444444444444';
let server: Server;
let emulator: TwilioVerificationsEmulator;
let adapter: TwilioVerifyAdapter;
const outbox = new Outbox();

const ALLOWED: GuardVerdict = { allowed: true };
const REFUSED = { allowed: false, scope: 'destination', retryAfterSeconds: 60 } as GuardVerdict;
const guard = {
  consumeSend: jest.fn<Promise<GuardVerdict>, [string, string]>(),
  refundSend: jest.fn<Promise<void>, [string, string]>(),
  peekSend: jest.fn<Promise<GuardVerdict>, [string, string]>(),
  checkAllowed: jest.fn<Promise<GuardVerdict>, [string, string]>(),
  recordFailedCheck: jest.fn<Promise<void>, [string, string]>(),
  reserveCheck: jest.fn<Promise<GuardVerdict>, [string, string]>(),
  releaseCheck: jest.fn<Promise<void>, [string, string]>(),
  noteCompletedByCheck: jest.fn<Promise<void>, [string]>(),
  completedByCheck: jest.fn<Promise<boolean>, [string]>(),
  startBegun: jest.fn<Promise<boolean>, [string]>(),
  forgetStart: jest.fn<Promise<void>, [string]>(),
  close: jest.fn<Promise<void>, []>(),
} satisfies AbuseGuard;

beforeAll(async () => {
  let baseUrl = '';
  emulator = new TwilioVerificationsEmulator({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    outbox,
    publicBaseUrl: () => baseUrl,
  });
  const app = express();
  app.use('/sandbox/twilio', emulator.router());
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sandbox/twilio`;
  adapter = new TwilioVerifyAdapter({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    apiBase: baseUrl,
  });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  jest.resetAllMocks();
  guard.consumeSend.mockResolvedValue(ALLOWED);
  guard.reserveCheck.mockResolvedValue(ALLOWED);
});

const acts = () => createPhoneActivities({ twilioVerify: adapter, guard });
const attempt = (n: number) =>
  new MockActivityEnvironment({ attempt: n } as never, { logger: new DefaultLogger('ERROR') });
let seq = 0;
const newNumber = () => `+1415558${String(++seq).padStart(4, '0')}`;
const sms = (to: string) => ({ channel: 'sms' as const, to, brand: 'Acme' });
const rejection = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
};

test('a start counts its send first; its retry does not count again; a send the REST API counted is not recounted', async () => {
  const to = newNumber();
  await attempt(1).run(acts().twilioStartVerification, sms(to), { client: 'c1', to });
  expect(guard.consumeSend.mock.calls).toEqual([['c1', to]]);
  await attempt(2).run(acts().twilioStartVerification, sms(to), { client: 'c1', to });
  await attempt(1).run(acts().twilioStartVerification, sms(to), { client: 'c1', to, counted: true });
  expect(guard.consumeSend).toHaveBeenCalledTimes(1);
  expect(outbox.list({ to })).toHaveLength(3); // Twilio re-sends the pending verification's code each time
});

test('a refused send sends nothing: RateLimited, no verification at Twilio', async () => {
  guard.consumeSend.mockResolvedValue(REFUSED);
  const to = newNumber();
  const failure = await rejection(attempt(1).run(acts().twilioStartVerification, sms(to), { client: 'c1', to }));
  expect(failure).toMatchObject({ type: FailureType.RateLimited, nonRetryable: true });
  expect(emulator.list({ to })).toEqual([]);
  expect(outbox.list({ to })).toEqual([]);
});

test('a worker without Twilio fails typed and counts nothing', async () => {
  const to = newNumber();
  const failure = await rejection(
    attempt(1).run(createPhoneActivities({ guard }).twilioStartVerification, sms(to), { client: 'c1', to }),
  );
  expect(failure.type).toBe('ProviderNotConfigured');
  expect(guard.consumeSend).not.toHaveBeenCalled();
});

test('code checks: each reserves a failed check; a right code gives it back, a wrong one keeps it; a refusal checks nothing', async () => {
  const to = newNumber();
  const started = (await attempt(1).run(acts().twilioStartVerification, sms(to))) as TwilioVerificationStarted;
  const code = outbox.list({ to }).at(-1)!.code;
  const g = { client: 'c1', to };
  expect(
    await attempt(1).run(acts().twilioCheckCode, {
      verificationSid: started.sid,
      code: code === '000000' ? '111111' : '000000',
      guard: g,
    }),
  ).toBe('invalid_code');
  expect(guard.reserveCheck).toHaveBeenCalledTimes(1);
  expect(guard.releaseCheck).not.toHaveBeenCalled();

  guard.reserveCheck.mockResolvedValueOnce({ allowed: false, scope: 'failed_checks', retryAfterSeconds: 600 } as never);
  const refused = await rejection(
    attempt(1).run(acts().twilioCheckCode, { verificationSid: started.sid, code, guard: g }),
  );
  expect(refused.type).toBe(FailureType.RateLimited);
  expect(emulator.list({ to })[0].checks).toBe(1);

  expect(await attempt(1).run(acts().twilioCheckCode, { verificationSid: started.sid, code, guard: g })).toBe(
    'completed',
  );
  expect(guard.releaseCheck.mock.calls).toEqual([['c1', to]]);
});

test('silent auth result checks pass the guard and never count as a wrong code', async () => {
  const to = newNumber();
  const started = (await attempt(1).run(acts().twilioStartVerification, {
    channel: 'silent_auth' as const,
    to,
  })) as TwilioVerificationStarted;
  const g = { client: 'c1', to };
  expect(await attempt(1).run(acts().twilioCheckSilentAuth, { verificationSid: started.sid, guard: g })).toBe(
    'pending',
  );
  emulator.openSnaUrl(started.sid);
  expect(await attempt(1).run(acts().twilioCheckSilentAuth, { verificationSid: started.sid, guard: g })).toBe(
    'completed',
  );
  expect(guard.reserveCheck).toHaveBeenCalledTimes(2);
  expect(guard.releaseCheck).toHaveBeenCalledTimes(2);
});
