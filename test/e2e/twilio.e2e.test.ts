import type { PhoneVerificationState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * Twilio Verify as a phone provider over HTTP with the sandbox: the API, a worker and the Twilio Verify emulator
 * reached by the real `twilio` SDK. Twilio SMS alone, Vonage → Twilio fallback in one run (a Vonage SMS that is never
 * delivered), Vonage silent auth → Twilio SMS → Vonage voice, Twilio down → Vonage, Twilio silent auth completed by
 * opening its check URL, a Fraud Guard block moving on at once; Vonage down → Twilio; a Twilio e-mail code.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const startPhone = async (body: object): Promise<PhoneVerificationState> => {
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ brand: 'Acme', ...body });
  expect(res.status).toBe(201);
  return res.body as PhoneVerificationState;
};
const stateOf = async (id: string) =>
  (await stack.http().get(`/v1/verifications/${id}`)).body as PhoneVerificationState;
const waitFor = (id: string, pred: (s: PhoneVerificationState) => boolean) =>
  eventually(async () => {
    const s = await stateOf(id);
    return pred(s) && s;
  }, 40_000);
const check = async (id: string, code: string) =>
  (await stack.http().post(`/v1/verifications/${id}/check`).send({ code })).body as { status: string };
const outbox = async (to: string, provider: string) =>
  (
    (await stack.http().get('/sandbox/outbox').query({ to })).body as {
      provider: string;
      channel: string;
      code: string;
    }[]
  ).filter((e) => e.provider === provider);
const twilioVerifications = async (to: string) =>
  (await stack.http().get('/sandbox/twilio/verifications').query({ to })).body as { sid: string; status: string }[];

test('Twilio SMS: the code arrives through Twilio Verify; a wrong code, then the right one completes', async () => {
  const to = uniqueNumber('+1415557');
  const started = await startPhone({ to, channels: [{ channel: 'sms', provider: 'twilio' }] });
  expect(started).toMatchObject({ status: 'pending', channel: 'sms', channels: [{ provider: 'twilio' }] });
  const [sms] = await eventually(async () => {
    const sent = await outbox(to, 'twilio');
    return sent.length > 0 && sent;
  });
  expect(sms.channel).toBe('sms');
  expect(await check(started.id, sms.code === '000000' ? '111111' : '000000')).toMatchObject({
    status: 'invalid_code',
    attemptsLeft: 4,
  });
  expect(await check(started.id, sms.code)).toMatchObject({ status: 'completed' });
  expect(await stateOf(started.id)).toMatchObject({ status: 'completed', reason: 'verified' });
  expect(await twilioVerifications(to)).toEqual([expect.objectContaining({ status: 'approved' })]);
});

test('Vonage → Twilio in one run: the Vonage SMS is never delivered, its channel times out, Twilio SMS completes', async () => {
  const to = '+15005550002'; // Vonage emulator: SMS accepted but never delivered
  const started = await startPhone({
    to,
    channels: [
      { channel: 'sms', provider: 'vonage', timeoutSeconds: 2 },
      { channel: 'sms', provider: 'twilio' },
    ],
  });
  const onTwilio = await waitFor(started.id, (s) => s.channelIndex === 1 && s.channels[1].status === 'active');
  expect(onTwilio.channels.map((c) => [c.provider, c.status])).toEqual([
    ['vonage', 'failed'],
    ['twilio', 'active'],
  ]);
  const [sms] = await eventually(async () => {
    const sent = await outbox(to, 'twilio');
    return sent.length > 0 && sent;
  });
  expect(await check(started.id, sms.code)).toMatchObject({ status: 'completed' });
  expect(await stateOf(started.id)).toMatchObject({ status: 'completed', channel: 'sms', channelIndex: 1 });
});

test('Vonage silent auth → Twilio SMS → Vonage voice in one run (+15005550001: no silent auth on its network)', async () => {
  const to = '+15005550001';
  const started = await startPhone({
    to,
    channels: [
      { channel: 'silent_auth', provider: 'vonage' },
      { channel: 'sms', provider: 'twilio', timeoutSeconds: 2 },
      { channel: 'voice', provider: 'vonage' },
    ],
  });
  await waitFor(started.id, (s) => s.channelIndex === 1 && s.channels[1].status === 'active');
  expect(await outbox(to, 'twilio')).toEqual([expect.objectContaining({ channel: 'sms' })]);
  const onVoice = await waitFor(started.id, (s) => s.channelIndex === 2 && s.channels[2].status === 'active');
  expect(onVoice.channels.map((c) => [c.provider, c.status])).toEqual([
    ['vonage', 'failed'],
    ['twilio', 'failed'],
    ['vonage', 'active'],
  ]);
  // The Twilio verification the run left was cancelled there.
  expect(await twilioVerifications(to)).toEqual([expect.objectContaining({ status: 'canceled' })]);
  const [call] = await eventually(async () => {
    const sent = (await outbox(to, 'vonage')).filter((e) => e.channel === 'voice');
    return sent.length > 0 && sent;
  });
  expect(await check(started.id, call.code)).toMatchObject({ status: 'completed' });
  expect(await stateOf(started.id)).toMatchObject({ status: 'completed', channel: 'voice' });
});

test('provider down: Twilio answers 503 to every start (+15005550106), so the SMS listed twice goes out through Vonage', async () => {
  const to = '+15005550106';
  const started = await startPhone({
    to,
    providerRetrySeconds: 5,
    channels: [
      { channel: 'sms', provider: 'twilio' },
      { channel: 'sms', provider: 'vonage' },
    ],
  });
  const [sms] = await eventually(async () => {
    const sent = await outbox(to, 'vonage');
    return sent.length > 0 && sent;
  }, 40_000);
  expect(await check(started.id, sms.code)).toMatchObject({ status: 'completed' });
  expect((await stateOf(started.id)).channels.map((c) => [c.provider, c.status])).toEqual([
    ['twilio', 'failed'],
    ['vonage', 'completed'],
  ]);
});

test('provider down: Vonage answers 503 to every start (+15005550007), so the SMS listed twice goes out through Twilio', async () => {
  const to = '+15005550007';
  const started = await startPhone({
    to,
    providerRetrySeconds: 5,
    channels: [
      { channel: 'sms', provider: 'vonage' },
      { channel: 'sms', provider: 'twilio' },
    ],
  });
  const [sms] = await eventually(async () => {
    const sent = await outbox(to, 'twilio');
    return sent.length > 0 && sent;
  }, 40_000);
  expect(await outbox(to, 'vonage')).toEqual([]);
  expect(await check(started.id, sms.code)).toMatchObject({ status: 'completed' });
  expect((await stateOf(started.id)).channels.map((c) => [c.provider, c.status])).toEqual([
    ['vonage', 'failed'],
    ['twilio', 'completed'],
  ]);
});

test("Twilio e-mail: the code goes to the channel's own address (the outbox shows the mail); checked, it completes", async () => {
  const to = uniqueNumber('+1415557');
  const address = `user-${Date.now()}@example.com`;
  const started = await startPhone({ to, channels: [{ channel: 'email', provider: 'twilio', to: address }] });
  expect(started).toMatchObject({ status: 'pending', channel: 'email', channels: [{ provider: 'twilio' }] });
  const [mail] = await eventually(async () => {
    const sent = await outbox(address, 'twilio');
    return sent.length > 0 && sent;
  });
  expect(mail.channel).toBe('email');
  expect(await outbox(to, 'twilio')).toEqual([]);
  expect(await check(started.id, mail.code)).toMatchObject({ status: 'completed' });
  expect(await twilioVerifications(address)).toEqual([expect.objectContaining({ status: 'approved' })]);
});

test('Twilio silent auth: the start answers with the SNA URL as checkUrl; opening it completes the verification', async () => {
  const to = uniqueNumber('+1415557');
  const started = await startPhone({
    to,
    channels: [
      { channel: 'silent_auth', provider: 'twilio' },
      { channel: 'sms', provider: 'vonage' },
    ],
  });
  expect(started).toMatchObject({ status: 'action_pending', channel: 'silent_auth', checkUrl: expect.any(String) });
  const device = await fetch(started.checkUrl!);
  expect(await device.text()).toContain('ErrorCode=0');
  expect(await waitFor(started.id, (s) => s.status === 'completed')).toMatchObject({
    reason: 'verified',
    channel: 'silent_auth',
  });
  expect(await outbox(to, 'vonage')).toEqual([]);
});

test('Twilio Fraud Guard block (60410): the channel fails `blocked` at once and Vonage takes over', async () => {
  const to = '+15005550103';
  const started = await startPhone({
    to,
    channels: [
      { channel: 'sms', provider: 'twilio', timeoutSeconds: 900 },
      { channel: 'voice', provider: 'vonage' },
    ],
  });
  const onVonage = await waitFor(started.id, (s) => s.channelIndex === 1 && s.channels[1].status === 'active');
  expect(onVonage.channels.map((c) => [c.status, c.reason])).toEqual([
    ['failed', 'blocked'],
    ['active', undefined],
  ]);
  await stack.http().post(`/v1/verifications/${started.id}/cancel`).send({});
});
