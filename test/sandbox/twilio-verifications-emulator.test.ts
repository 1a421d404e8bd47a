import type { Server } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import express from 'express';
import { TwilioVerifyAdapter, twilioLocale } from '../../providers/twilio/verify';
import { Outbox } from '../../sandbox/outbox';
import { TWILIO_SANDBOX_NUMBERS, TwilioVerificationsEmulator } from '../../sandbox/twilio-verifications-emulator';
import { TwilioVerifyEmulator } from '../../sandbox/twilio-verify-emulator';
import { FailureType } from '../../workflows/contract';
import { freePort } from '../support/ports';

/**
 * The Twilio Verify v2 Verifications emulator driven by the real `twilio` SDK through the adapter: every endpoint the
 * phone activities use (create, fetch, update to canceled, VerificationCheck with and without a code) and every Twilio
 * error the adapter classifies, with the special numbers that produce them. Mounted like the sandbox mounts it: before
 * the Push emulator on the same base URL.
 */
const ACCOUNT_SID = 'AC11111111111111111111111111111111';
const AUTH_TOKEN = 'emulator-test-auth-token-0123456789';
const SERVICE_SID = 'VA22222222222222222222222222222222';

let server: Server;
let baseUrl: string;
let emulator: TwilioVerificationsEmulator;
let push: TwilioVerifyEmulator;
let adapter: TwilioVerifyAdapter;
const outbox = new Outbox();

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  emulator = new TwilioVerificationsEmulator({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    outbox,
    publicBaseUrl: () => `${baseUrl}/sandbox/twilio`,
  });
  push = new TwilioVerifyEmulator({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    webhookUrl: () => `${baseUrl}/webhooks/twilio`,
    webhooks: false,
  });
  adapter = new TwilioVerifyAdapter({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    apiBase: `${baseUrl}/sandbox/twilio`,
    customFriendlyName: true,
  });
  const app = express();
  app.use('/sandbox/twilio', emulator.router());
  app.use('/sandbox/twilio', push.router());
  await new Promise<void>((resolve) => {
    server = app.listen(port, '127.0.0.1', () => resolve());
  });
});

afterAll(async () => {
  push.close();
  await new Promise((resolve) => server.close(resolve));
});

let seq = 0;
/** A fresh ordinary number per test (+1 555 01x xxxx), so Twilio's one-pending-verification-per-To rule never mixes tests. */
const newNumber = () => `+1555${String(Date.now() % 1_000_000).padStart(6, '0')}${++seq % 10}`;
const codeFor = (to: string) => outbox.list({ to, provider: 'twilio' }).at(-1)?.code;
const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
};

test('sms: a code to the outbox; a wrong code leaves it pending, the right one approves it, then it is gone (20404)', async () => {
  const to = newNumber();
  const started = await adapter.startVerification({ channel: 'sms', to, brand: 'Acme', locale: 'pt-BR' });
  expect(started.sid).toMatch(/^VE[0-9a-f]{32}$/);
  expect(started.snaUrl).toBeUndefined();
  expect(emulator.list({ to })).toEqual([
    expect.objectContaining({
      sid: started.sid,
      channel: 'sms',
      status: 'pending',
      locale: 'pt-br',
      friendlyName: 'Acme',
    }),
  ]);
  const code = codeFor(to)!;
  expect(code).toMatch(/^\d{6}$/);
  expect(await adapter.fetchStatus(started.sid)).toBe('pending');
  expect(await adapter.checkCode(started.sid, code === '000000' ? '111111' : '000000')).toBe('invalid_code');
  expect(await adapter.checkCode(started.sid, code)).toBe('completed');
  expect(await adapter.checkCode(started.sid, code)).toBe('not_found');
  expect(await adapter.fetchStatus(started.sid)).toBeUndefined();
  expect(await adapter.cancel(started.sid)).toBe(false);
});

test('our channels are Twilio channels: voice is a call, whatsapp and email deliver too', async () => {
  const to = newNumber();
  const call = await adapter.startVerification({ channel: 'voice', to });
  expect(emulator.list({ to })[0]).toMatchObject({ sid: call.sid, channel: 'call' });
  expect(await adapter.cancel(call.sid)).toBe(true);
  const whatsapp = await adapter.startVerification({ channel: 'whatsapp', to });
  expect(whatsapp.sid).not.toBe(call.sid);
  expect(emulator.list({ to }).at(-1)).toMatchObject({ sid: whatsapp.sid, channel: 'whatsapp', status: 'pending' });
  const email = `user-${++seq}@example.com`;
  const mail = await adapter.startVerification({ channel: 'email', to: email });
  expect(outbox.list({ to: email, provider: 'twilio' })).toEqual([
    expect.objectContaining({ channel: 'email', ref: mail.sid }),
  ]);
  expect(await adapter.checkCode(mail.sid, codeFor(email)!)).toBe('completed');
});

test('a cancelled verification is gone: fetch answers undefined, a check not_found, a second cancel false', async () => {
  const to = newNumber();
  const { sid } = await adapter.startVerification({ channel: 'sms', to });
  expect(await adapter.cancel(sid)).toBe(true);
  expect(await adapter.fetchStatus(sid)).toBeUndefined();
  expect(await adapter.checkCode(sid, codeFor(to)!)).toBe('not_found');
  expect(await adapter.cancel(sid)).toBe(false);
});

test('silent network auth: sna.url handed out; pending (60519) until the device opens it, then approved', async () => {
  const to = newNumber();
  const started = await adapter.startVerification({ channel: 'silent_auth', to });
  expect(started.snaUrl).toBe(`${baseUrl}/sandbox/twilio/sna/${started.sid}`);
  expect(outbox.list({ to })).toEqual([]);
  expect(await adapter.checkSilentAuth(started.sid)).toBe('pending');
  const opened = await fetch(started.snaUrl!);
  expect(await opened.text()).toContain('ErrorCode=0');
  expect(await adapter.checkSilentAuth(started.sid)).toBe('completed');
});

test('silent network auth the carrier cannot confirm: the check lists an SNA error code and answers failed', async () => {
  const to = `+${TWILIO_SANDBOX_NUMBERS.snaFails}`;
  const started = await adapter.startVerification({ channel: 'silent_auth', to });
  await fetch(started.snaUrl!);
  expect(await adapter.checkSilentAuth(started.sid)).toBe('failed');
  expect(await adapter.cancel(started.sid)).toBe(true);
});

test('60202: five wrong codes, then the sixth check is refused → too_many_attempts', async () => {
  const to = newNumber();
  const { sid } = await adapter.startVerification({ channel: 'sms', to });
  const wrong = codeFor(to) === '999999' ? '888888' : '999999';
  for (let i = 0; i < 5; i++) expect(await adapter.checkCode(sid, wrong)).toBe('invalid_code');
  expect(await adapter.checkCode(sid, codeFor(to)!)).toBe('too_many_attempts');
});

test('60203: a new start for a pending To re-sends the same code on the new channel, the sixth send is refused', async () => {
  const to = newNumber();
  const { sid } = await adapter.startVerification({ channel: 'sms', to });
  for (let i = 0; i < 4; i++) expect((await adapter.startVerification({ channel: 'voice', to })).sid).toBe(sid);
  expect(new Set(outbox.list({ to }).map((e) => e.code)).size).toBe(1);
  const failure = await failureOf(adapter.startVerification({ channel: 'sms', to }));
  expect(failure).toMatchObject({ type: FailureType.ProviderLimitReached, nonRetryable: true });
  const special = await failureOf(
    adapter.startVerification({ channel: 'sms', to: `+${TWILIO_SANDBOX_NUMBERS.maxSendAttempts}` }),
  );
  expect(special).toMatchObject({ type: FailureType.ProviderLimitReached, nonRetryable: true });
});

test('60200 about To → InvalidDestination without the number in the message; a malformed code is a wrong code', async () => {
  const special = `+${TWILIO_SANDBOX_NUMBERS.invalidParameter}`;
  const failure = await failureOf(adapter.startVerification({ channel: 'sms', to: special }));
  expect(failure).toMatchObject({ type: FailureType.InvalidDestination, nonRetryable: true });
  expect(failure.message).not.toContain(TWILIO_SANDBOX_NUMBERS.invalidParameter);
  const bad = await failureOf(adapter.startVerification({ channel: 'email', to: 'not-an-address' }));
  expect(bad.type).toBe(FailureType.InvalidDestination);
  const to = newNumber();
  const { sid } = await adapter.startVerification({ channel: 'sms', to });
  expect(await adapter.checkCode(sid, '12')).toBe('invalid_code');
});

test('60410 Fraud Guard and 60605 geo permissions → ChannelBlocked, non-retryable', async () => {
  for (const n of [TWILIO_SANDBOX_NUMBERS.fraudGuardBlocked, TWILIO_SANDBOX_NUMBERS.geoPermissionBlocked]) {
    const failure = await failureOf(adapter.startVerification({ channel: 'sms', to: `+${n}` }));
    expect(failure).toMatchObject({ type: FailureType.ChannelBlocked, nonRetryable: true });
  }
});

test('5xx and 429 stay retryable (429 with Retry-After as the next delay); the special number recovers on the third try', async () => {
  const flaky = `+${TWILIO_SANDBOX_NUMBERS.unavailableTwice}`;
  for (let i = 0; i < 2; i++) {
    const outage = await failureOf(adapter.startVerification({ channel: 'sms', to: flaky }));
    expect(outage).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
  }
  const { sid } = await adapter.startVerification({ channel: 'sms', to: flaky });
  expect(await adapter.cancel(sid)).toBe(true);
  const down = await failureOf(
    adapter.startVerification({ channel: 'sms', to: `+${TWILIO_SANDBOX_NUMBERS.unavailable}` }),
  );
  expect(down).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false });
  emulator.failNextStarts(1, 429, 3);
  const limited = await failureOf(adapter.startVerification({ channel: 'sms', to: newNumber() }));
  expect(limited).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false, nextRetryDelay: 3000 });
});

test('a wrong auth token → ProviderAuthFailed; the Push emulator still answers its own paths on the same base', async () => {
  const wrong = new TwilioVerifyAdapter({
    accountSid: ACCOUNT_SID,
    authToken: 'not-the-auth-token-0123456789',
    serviceSid: SERVICE_SID,
    apiBase: `${baseUrl}/sandbox/twilio`,
  });
  const failure = await failureOf(wrong.startVerification({ channel: 'sms', to: newNumber() }));
  expect(failure).toMatchObject({ type: FailureType.ProviderAuthFailed, nonRetryable: true });
  const res = await fetch(`${baseUrl}/sandbox/twilio/v2/Services/${SERVICE_SID}/Entities/nobody-here/Factors`, {
    headers: { authorization: `Basic ${Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64')}` },
  });
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ code: 20404 });
});

test('locales: Twilio takes a few with their region, every other one as its language', () => {
  expect(twilioLocale('en-US')).toBe('en');
  expect(twilioLocale('pt-BR')).toBe('pt-br');
  expect(twilioLocale('en-gb')).toBe('en-gb');
  expect(twilioLocale(undefined)).toBeUndefined();
});
