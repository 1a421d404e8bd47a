import type { Server } from 'node:http';
import { ApplicationFailure } from '@temporalio/common';
import express from 'express';
import twilio from 'twilio';
import { classifyTwilioError, TwilioHttpError, TwilioPushAdapter } from '../../providers/twilio/push';
import { normalizeTwilioPushWebhook, parseForm, verifyTwilioSignature } from '../../providers/twilio/webhook';
import { TwilioVerifyEmulator } from '../../sandbox/twilio-verify-emulator';
import { FailureType } from '../../workflows/contract';
import { PushDevice } from '../support/push-device';
import { freePort } from '../support/ports';
import { eventually } from '../support/stack';

/**
 * The Twilio Verify emulator driven by the real `twilio` SDK through the adapter's rewriting httpClient: resources,
 * Twilio error bodies and their classification, device authentication, notifications instead of second challenges,
 * and webhooks signed so that `twilio.validateRequest` accepts them.
 */
const ACCOUNT_SID = 'AC11111111111111111111111111111111';
const AUTH_TOKEN = 'emulator-test-auth-token-0123456789';
const SERVICE_SID = 'VA22222222222222222222222222222222';

let server: Server;
let baseUrl: string;
let emulator: TwilioVerifyEmulator;
let adapter: TwilioPushAdapter;
const received: { params: Record<string, string | string[]>; valid: boolean }[] = [];

beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const webhookUrl = `${baseUrl}/webhooks/twilio`;
  emulator = new TwilioVerifyEmulator({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    webhookUrl: () => webhookUrl,
    webhookDelayMs: 0,
  });
  adapter = new TwilioPushAdapter({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    apiBase: `${baseUrl}/sandbox/twilio`,
  });
  const app = express();
  app.use('/sandbox/twilio', emulator.router());
  app.post('/webhooks/twilio', express.raw({ type: '*/*' }), (req, res) => {
    const params = parseForm(req.body as Buffer);
    received.push({
      params,
      valid: verifyTwilioSignature(AUTH_TOKEN, req.get('x-twilio-signature'), webhookUrl, params),
    });
    res.status(200).end();
  });
  app.post('/v1/push/access-tokens', express.json(), async (req, res) => {
    const token = await adapter.createAccessToken((req.body as { identity: string }).identity);
    res.status(201).json(token);
  });
  await new Promise<void>((resolve) => {
    server = app.listen(port, '127.0.0.1', () => resolve());
  });
});

afterAll(async () => {
  emulator.close();
  await new Promise((resolve) => server.close(resolve));
});

let seq = 0;
const newIdentity = () => `user-${Date.now().toString(36)}-${++seq}`;
const enrolled = async () => {
  const device = new PushDevice(baseUrl, newIdentity());
  await device.enroll();
  return device;
};
const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
};

test('enrollment: access token, factor created then verified by the device; both webhooks signed and valid', async () => {
  const device = await enrolled();
  const factors = await adapter.listFactors(device.identity);
  expect(factors).toEqual([expect.objectContaining({ sid: device.factorSid, status: 'verified', factorType: 'push' })]);
  expect((await adapter.newestVerifiedFactor(device.identity))?.sid).toBe(device.factorSid);
  const hooks = await eventually(() => {
    const mine = received.filter((r) => r.params.entity_identity === device.identity);
    return mine.length >= 2 && mine;
  });
  expect(hooks.map((h) => h.params.type)).toEqual(['factor.created', 'factor.verified']);
  expect(hooks.every((h) => h.valid)).toBe(true);
  expect(normalizeTwilioPushWebhook(hooks[1].params)).toMatchObject({
    provider: 'twilio',
    type: 'factor.verified',
    identity: device.identity,
    factorSid: device.factorSid,
  });
  // A tampered parameter breaks the signature.
  const url = `${baseUrl}/webhooks/twilio`;
  const signature = twilio.getExpectedTwilioSignature(AUTH_TOKEN, url, hooks[1].params);
  expect(verifyTwilioSignature(AUTH_TOKEN, signature, url, hooks[1].params)).toBe(true);
  expect(verifyTwilioSignature(AUTH_TOKEN, signature, url, { ...hooks[1].params, factor_sid: 'YFother' })).toBe(false);
});

test('an unknown entity has no factors; a factor that does not exist → ProviderNotFound', async () => {
  expect(await adapter.listFactors('nobody-at-all-here')).toEqual([]);
  expect(await adapter.newestVerifiedFactor('nobody-at-all-here')).toBeUndefined();
  const device = await enrolled();
  const failure = await failureOf(
    adapter.createChallenge({
      identity: device.identity,
      factorSid: 'YF00000000000000000000000000000000',
      message: 'hi',
      expirationDate: new Date(Date.now() + 60_000).toISOString(),
    }),
  );
  expect(failure.type).toBe(FailureType.ProviderNotFound);
  expect(failure.nonRetryable).toBe(true);
});

test('challenge with details and expiry; a resend is a notification of the same challenge; the device approves', async () => {
  const device = await enrolled();
  const challenge = await adapter.createChallenge({
    identity: device.identity,
    factorSid: device.factorSid!,
    message: 'Log in to Acme?',
    fields: [{ label: 'Location', value: 'Lisbon' }],
    hiddenDetails: { ip: '172.168.1.234' },
    expirationDate: new Date(Date.now() + 120_000).toISOString(),
  });
  expect(challenge).toMatchObject({ factorSid: device.factorSid, status: 'pending' });
  expect(challenge.sid).toMatch(/^YC[0-9a-f]{32}$/);
  expect(await adapter.resendNotification(device.identity, challenge.sid, 60)).toBe('sent');

  const seen = emulator.challenges({ identity: device.identity });
  expect(seen).toHaveLength(1);
  expect(seen[0]).toMatchObject({
    message: 'Log in to Acme?',
    fields: [{ label: 'Location', value: 'Lisbon' }],
    sends: 2,
  });
  expect(seen[0].notifications).toEqual([expect.objectContaining({ ttl: 60 })]);

  expect((await device.pending()).map((c) => c.sid)).toEqual([challenge.sid]);
  await device.answer(challenge.sid, 'approved');
  expect(await adapter.fetchChallenge(device.identity, challenge.sid)).toMatchObject({ status: 'approved' });
  const hook = await eventually(() =>
    received.find((r) => r.params.challenge_sid === challenge.sid && r.params.type === 'challenge.approved'),
  );
  expect(hook.valid).toBe(true);
  expect(JSON.parse(String(hook.params.challenge_details))).toMatchObject({ message: 'Log in to Acme?' });
  // Answered: nothing left to resend, and a second answer is refused.
  expect(await adapter.resendNotification(device.identity, challenge.sid, 60)).toBe('not_pending');
  await expect(device.answer(challenge.sid, 'denied')).rejects.toThrow(/HTTP 400/);
});

test('Twilio limits: at most 5 sends per challenge (60203 → max_sends, non-retryable when thrown)', async () => {
  const device = await enrolled();
  const challenge = await adapter.createChallenge({
    identity: device.identity,
    factorSid: device.factorSid!,
    message: 'again',
    expirationDate: new Date(Date.now() + 120_000).toISOString(),
  });
  for (let i = 0; i < 4; i++) expect(await adapter.resendNotification(device.identity, challenge.sid, 30)).toBe('sent');
  expect(await adapter.resendNotification(device.identity, challenge.sid, 30)).toBe('max_sends');
  expect(emulator.challenge(challenge.sid)?.sends).toBe(5);
  const limit = classifyTwilioError(new TwilioHttpError(429, 60203, undefined, '1', 'HTTP 429 60203'), 'x');
  expect(limit).toMatchObject({ type: FailureType.ProviderLimitReached, nonRetryable: true });
});

test('invalid details → 400 InvalidProviderRequest; only the device can answer a push challenge', async () => {
  const device = await enrolled();
  const failure = await failureOf(
    adapter.createChallenge({
      identity: device.identity,
      factorSid: device.factorSid!,
      message: 'x'.repeat(257),
      expirationDate: new Date(Date.now() + 60_000).toISOString(),
    }),
  );
  expect(failure).toMatchObject({ type: FailureType.InvalidProviderRequest, nonRetryable: true });
  expect(failure.message).toContain('60200');

  const challenge = await adapter.createChallenge({
    identity: device.identity,
    factorSid: device.factorSid!,
    message: 'ok',
    expirationDate: new Date(Date.now() + 60_000).toISOString(),
  });
  const other = await enrolled();
  other.serviceSid = SERVICE_SID;
  // Another device's key cannot answer it.
  const res = await fetch(
    `${baseUrl}/sandbox/twilio/v2/Services/${SERVICE_SID}/Entities/${device.identity}/Challenges/${challenge.sid}`,
    {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`token:${other.deviceToken()}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'Status=approved',
    },
  );
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual({
    code: 20003,
    message: 'Authenticate',
    more_info: 'https://www.twilio.com/docs/errors/20003',
    status: 401,
  });
  expect(emulator.challenge(challenge.sid)?.status).toBe('pending');
});

test('wrong credentials → ProviderAuthFailed; 503 with Retry-After → retryable with that delay', async () => {
  const wrong = new TwilioPushAdapter({
    accountSid: ACCOUNT_SID,
    authToken: 'not-the-right-token-at-all',
    serviceSid: SERVICE_SID,
    apiBase: `${baseUrl}/sandbox/twilio`,
  });
  expect(await failureOf(wrong.createAccessToken('user-abcdefgh'))).toMatchObject({
    type: FailureType.ProviderAuthFailed,
    nonRetryable: true,
  });

  const device = await enrolled();
  emulator.failNextChallenges(1, 503, 2);
  const outage = await failureOf(
    adapter.createChallenge({
      identity: device.identity,
      factorSid: device.factorSid!,
      message: 'retry me',
      expirationDate: new Date(Date.now() + 60_000).toISOString(),
    }),
  );
  expect(outage).toMatchObject({ type: 'ProviderUnavailable', nonRetryable: false, nextRetryDelay: 2000 });
  // The next attempt goes through.
  await expect(
    adapter.createChallenge({
      identity: device.identity,
      factorSid: device.factorSid!,
      message: 'retry me',
      expirationDate: new Date(Date.now() + 60_000).toISOString(),
    }),
  ).resolves.toMatchObject({ status: 'pending' });
});

test('a challenge past its expiration date reads expired; network errors stay retryable', async () => {
  const device = await enrolled();
  const challenge = await adapter.createChallenge({
    identity: device.identity,
    factorSid: device.factorSid!,
    message: 'soon gone',
    expirationDate: new Date(Date.now() + 1500).toISOString(),
  });
  await eventually(async () => (await adapter.fetchChallenge(device.identity, challenge.sid)).status === 'expired');
  expect(await adapter.resendNotification(device.identity, challenge.sid, 30)).toBe('not_pending');

  const unreachable = new TwilioPushAdapter({
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    serviceSid: SERVICE_SID,
    apiBase: `http://127.0.0.1:${await freePort()}`,
  });
  const err = await unreachable.fetchChallenge(device.identity, challenge.sid).catch((e: unknown) => e);
  expect(err).not.toBeInstanceOf(ApplicationFailure);
  expect(classifyTwilioError(err, 'x')).toBe(err);
});
