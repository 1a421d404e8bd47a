import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PhoneVerificationState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';

/**
 * Per-client settings through the REST API: a client whose CLIENTS_FILE entry sets its brand, its channels in order,
 * its providers and its SMS template starts with a body of just `to`; a request may narrow that, never widen it
 * (400 naming the field, nothing started). The sandbox's own SMS gateway (`sandbox`) sends our codes.
 */
const ACME_KEY = 'acme-e2e-key-0001';
let stack: Stack;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'client-settings-e2e-')), 'clients.yaml');
  writeFileSync(
    file,
    [
      'clients:',
      '  - id: acme',
      `    keys: [${ACME_KEY}]`,
      '    brand: Acme',
      '    channels: [sms, voice]',
      '    providers: [sms_gateway, vonage]',
      '    messageTemplate: login',
      '    templates:',
      '      login: "Acme login code: @@password@@"',
    ].join('\n'),
  );
  stack = await startStack({ CLIENTS_FILE: file });
});
afterAll(async () => {
  await stack?.stop();
});

const acme = () => ({ authorization: `Bearer ${ACME_KEY}` });
const uniqueNumber = () => `+1415558${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;

test('a start that leaves everything to the client gets its brand, channels, providers and template', async () => {
  const to = uniqueNumber();
  const res = await stack.anon().post('/v1/verifications/phone').set(acme()).send({ to });
  expect(res.status).toBe(201);
  const state = res.body as PhoneVerificationState;
  expect(state.channels.map((c) => [c.channel, c.provider])).toEqual([
    ['sms', 'sms_gateway'],
    ['voice', 'vonage'],
  ]);
  const sms = await eventually(async () => {
    const out = (await stack.anon().get('/sandbox/outbox').query({ to })).body as { body: string; code: string }[];
    return out[0];
  });
  expect(sms.body).toBe(`Acme login code: ${sms.code}`);
  await stack.anon().post(`/v1/verifications/${state.id}/cancel`).set(acme()).send({});
});

test('a request may narrow the client settings (one channel, an allowed provider), never widen them', async () => {
  const narrowed = await stack
    .anon()
    .post('/v1/verifications/phone')
    .set(acme())
    .send({ to: uniqueNumber(), brand: 'Acme Pay', channels: [{ channel: 'voice' }] });
  expect(narrowed.status).toBe(201);
  expect((narrowed.body as PhoneVerificationState).channels.map((c) => [c.channel, c.provider])).toEqual([
    ['voice', 'vonage'],
  ]);
  await stack.anon().post(`/v1/verifications/${narrowed.body.id}/cancel`).set(acme()).send({});
  // SMS named without a provider goes to the client's first provider for it (the contract alone would say vonage).
  const smsOnly = await stack
    .anon()
    .post('/v1/verifications/phone')
    .set(acme())
    .send({ to: uniqueNumber(), channels: [{ channel: 'sms' }] });
  expect(smsOnly.status).toBe(201);
  expect((smsOnly.body as PhoneVerificationState).channels.map((c) => [c.channel, c.provider])).toEqual([
    ['sms', 'sms_gateway'],
  ]);
  await stack.anon().post(`/v1/verifications/${smsOnly.body.id}/cancel`).set(acme()).send({});

  const widened = await stack
    .anon()
    .post('/v1/verifications/phone')
    .set(acme())
    .send({ to: uniqueNumber(), channels: [{ channel: 'sms' }, { channel: 'whatsapp' }], reference: 'widened-1' });
  expect(widened.status).toBe(400);
  expect(widened.body.message).toBe(
    'channels[1].channel: whatsapp is not allowed for this client (allowed: sms, voice)',
  );
  const onboarding = await stack
    .anon()
    .post('/v1/onboardings')
    .set(acme())
    .send({
      reference: 'widened-2',
      phone: { to: uniqueNumber(), channels: [{ channel: 'silent_auth', provider: 'vonage' }] },
      identity: { type: 'document' },
    });
  expect(onboarding.status).toBe(400);
  expect(onboarding.body.message).toMatch(/^phone\.channels\[0\]\.channel: silent_auth is not allowed/);
  const push = await stack
    .anon()
    .post('/v1/verifications/push')
    .set(acme())
    .send({ identity: 'user-00000001', message: 'Log in?' });
  expect(push.status).toBe(400);
  expect(push.body.message).toBe('provider: twilio is not allowed for this client (allowed: sms_gateway, vonage)');
  // Nothing was started for the refused requests.
  for (const id of ['phone-acme-widened-1', 'onboarding-acme-widened-2']) {
    await expect(stack.client.workflow.getHandle(id).describe()).rejects.toThrow(/not found/i);
  }
});
