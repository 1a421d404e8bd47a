import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createOtpActivities, generateOtp, otpHmac, renderOtpMessage } from '../../activities/otp';
import type { SmsGatewayMessage, SmsGateways } from '../../activities/providers/sms-gateway';

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
const acts = createOtpActivities({ smsGateways: gateways, otp: { hmacSecret: secret } });
const envFor = (workflowId: string) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } } as never, {
    logger: new DefaultLogger('ERROR'),
  });

beforeEach(() => {
  sent.length = 0;
});

test('codes come from the CSPRNG: the asked length, digits only, not constant', () => {
  const codes = Array.from({ length: 50 }, () => generateOtp(6));
  for (const c of codes) expect(c).toMatch(/^\d{6}$/);
  expect(new Set(codes).size).toBeGreaterThan(40);
  expect(generateOtp(10)).toMatch(/^\d{10}$/);
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

test('a template without @@password@@ is refused (non-retryable InvalidInput); no SMS is sent', async () => {
  const err = await envFor('phone-x')
    .run(acts.otpSend, { to: '+14155550100', brand: 'Acme', template: 'no code here', channelIndex: 0, issue: 1 })
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
