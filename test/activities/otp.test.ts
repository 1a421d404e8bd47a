import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createMessageTemplates } from '../../activities/message-templates';
import { createOtpActivities, deriveOtp, otpHmac, renderOtpMessage } from '../../activities/otp';
import type { SmsGatewayMessage, SmsGateways } from '../../providers/sms-gateway/http-gateways';

/** Our own OTP's activities in a mock activity context, with a capturing gateway. */
const secret = Buffer.from('test-otp-hmac-secret-0123456789abcdef');
const sent: { gateway?: string; message: SmsGatewayMessage }[] = [];
const gateways: SmsGateways = {
  names: () => ['gw'],
  send: async (gateway, message) => {
    sent.push({ gateway, message });
    return { gateway: gateway ?? 'gw', status: 200 };
  },
};
const templates = createMessageTemplates({
  clients: { acme: { login: 'Acme login code: @@password@@' } },
  gateways: { gw: { short: '@@password@@ is your @@brand@@ code' } },
});
const acts = createOtpActivities({ smsGateways: gateways, otp: { hmacSecret: secret }, templates });
const envFor = (workflowId: string, attempt = 1) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' }, attempt } as never, {
    logger: new DefaultLogger('ERROR'),
  });

beforeEach(() => {
  sent.length = 0;
});

test('codes are derived from the key, the workflow, the channel and the issue: the asked length, digits, spread', () => {
  const codes = Array.from({ length: 50 }, (_, i) => deriveOtp(secret, `phone-${i}`, { channelIndex: 0, issue: 1 }, 6));
  for (const c of codes) expect(c).toMatch(/^\d{6}$/);
  expect(new Set(codes).size).toBeGreaterThan(40);
  expect(deriveOtp(secret, 'phone-a', { channelIndex: 0, issue: 1 }, 10)).toMatch(/^\d{10}$/);
  const one = deriveOtp(secret, 'phone-a', { channelIndex: 0, issue: 1 }, 6);
  expect(deriveOtp(secret, 'phone-a', { channelIndex: 0, issue: 1 }, 6)).toBe(one);
  const others = [
    deriveOtp(secret, 'phone-a', { channelIndex: 0, issue: 2 }, 6),
    deriveOtp(secret, 'phone-a', { channelIndex: 1, issue: 1 }, 6),
    deriveOtp(Buffer.from('another-key-another-key-another-key'), 'phone-a', { channelIndex: 0, issue: 1 }, 6),
  ];
  expect(others.filter((c) => c === one).length).toBeLessThanOrEqual(1);
});

test('a retried send (worker died mid-send) sends the same code, which still verifies', async () => {
  const params = { gateway: 'gw', to: '+14155550100', brand: 'Acme', channelIndex: 0, issue: 1 };
  const first: { hmac: string } = await envFor('phone-retry', 1).run(acts.otpSend, params);
  const second: { hmac: string } = await envFor('phone-retry', 2).run(acts.otpSend, params);
  expect(sent).toHaveLength(2);
  expect(sent[1].message.body).toBe(sent[0].message.body);
  expect(second.hmac).toBe(first.hmac);
  const code = /(\d{6})$/.exec(sent[0].message.body)![1];
  expect(await envFor('phone-retry').run(acts.otpVerify, { hmac: first.hmac, code, channelIndex: 0, issue: 1 })).toBe(
    true,
  );
});

test("templates are chosen by name: the client's, then the gateway's, then default; unknown names send nothing", async () => {
  const send = (templateName: string | undefined, client?: string) =>
    envFor('phone-tpl').run(acts.otpSend, {
      gateway: 'gw',
      to: '+14155550100',
      brand: 'Acme',
      channelIndex: 0,
      issue: 1,
      templateName,
      ...(client ? { guard: { client, to: '+14155550100' } } : {}),
    });
  await send(undefined);
  await send('short');
  await send('login', 'acme');
  expect(sent.map((s) => s.message.body.replace(/\d{6}/, 'CODE'))).toEqual([
    'Your Acme code is CODE',
    'CODE is your Acme code',
    'Acme login code: CODE',
  ]);
  const err = await send('login', 'other').catch((e) => e as ApplicationFailure);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
  expect(sent).toHaveLength(3);
});

test('the message template fills @@password@@ and @@brand@@', () => {
  expect(renderOtpMessage('Your @@brand@@ code is @@password@@ (@@password@@)', '123456', 'Acme')).toBe(
    'Your Acme code is 123456 (123456)',
  );
});

test('the HMAC is keyed and bound to workflow, channel and issue', () => {
  const base = otpHmac(secret, 'phone-a', { channelIndex: 1, issue: 1 }, '123456');
  expect(base).toMatch(/^[0-9a-f]{64}$/);
  expect(otpHmac(secret, 'phone-a', { channelIndex: 1, issue: 1 }, '123456')).toBe(base);
  expect(otpHmac(secret, 'phone-b', { channelIndex: 1, issue: 1 }, '123456')).not.toBe(base);
  expect(otpHmac(secret, 'phone-a', { channelIndex: 2, issue: 1 }, '123456')).not.toBe(base);
  expect(otpHmac(secret, 'phone-a', { channelIndex: 1, issue: 2 }, '123456')).not.toBe(base);
  expect(
    otpHmac(Buffer.from('another-key-another-key-another-key'), 'phone-a', { channelIndex: 1, issue: 1 }, '123456'),
  ).not.toBe(base);
});

test('otpSend sends the code and returns only its HMAC; otpVerify accepts it only for the same binding', async () => {
  const env = envFor('phone-otp-unit');
  const result: { hmac: string; gateway: string } = await env.run(acts.otpSend, {
    gateway: 'gw',
    to: '+14155550100',
    brand: 'Acme',
    codeLength: 8,
    channelIndex: 0,
    issue: 1,
  });
  expect(Object.keys(result).sort()).toEqual(['gateway', 'hmac']);
  expect(sent).toHaveLength(1);
  expect(sent[0].message).toMatchObject({ recipient: '+14155550100', sender: 'Acme' });
  const code = /Your Acme code is (\d{8})$/.exec(sent[0].message.body)?.[1];
  expect(code).toBeDefined();
  expect(JSON.stringify(result)).not.toContain(code!);

  const verify = (workflowId: string, c: string, issue = 1) =>
    envFor(workflowId).run(acts.otpVerify, { hmac: result.hmac, code: c, channelIndex: 0, issue });
  expect(await verify('phone-otp-unit', code!)).toBe(true);
  expect(
    await verify(
      'phone-otp-unit',
      code!.replace(/.$/, (d) => String((Number(d) + 1) % 10)),
    ),
  ).toBe(false);
  expect(await verify('phone-otp-unit', code!, 2)).toBe(false);
  expect(await verify('phone-other', code!)).toBe(false);
  // A malformed HMAC never matches (and never throws).
  expect(
    await envFor('phone-otp-unit').run(acts.otpVerify, { hmac: 'zz', code: code!, channelIndex: 0, issue: 1 }),
  ).toBe(false);
});

test('an unknown template name is refused (non-retryable InvalidInput); no SMS is sent', async () => {
  const err = await envFor('phone-x')
    .run(acts.otpSend, { to: '+14155550100', brand: 'Acme', templateName: 'phishing', channelIndex: 0, issue: 1 })
    .catch((e) => e as ApplicationFailure);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).nonRetryable).toBe(true);
  expect(sent).toHaveLength(0);
});

test('without a key or gateways the activities fail typed, non-retryable', async () => {
  const bare = createOtpActivities({});
  const err = await envFor('phone-x')
    .run(bare.otpSend, { to: '+14155550100', brand: 'Acme', channelIndex: 0, issue: 1 })
    .catch((e) => e);
  expect(err).toMatchObject({ type: 'ProviderNotConfigured', nonRetryable: true });
});
