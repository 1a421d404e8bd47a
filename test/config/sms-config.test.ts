import { loadSmsConfig } from '../../src/config/sms-config';

/** The SMS variables: sandbox defaults, real configuration, and errors that name the variable (never a secret). */
const sandbox = { sandbox: true, publicUrl: 'http://127.0.0.1:3000', vonageSignatureSecret: 'sig-secret-0123456789' };
const real = { ...sandbox, sandbox: false };
const GATEWAY = {
  name: 'acme',
  url: 'https://sms.example.com/send',
  subject: 'urn:Auth0',
  audience: 'urn:Acme',
  secret: 'S3cr3t!',
};

test('sandbox: the sandbox gateways, an OTP key, the Vonage SMS emulator and the inbound gateway, all defaulted', () => {
  const c = loadSmsConfig({}, sandbox);
  expect(c.gateways.map((g) => [g.name, g.url])).toEqual([
    ['sandbox', 'http://127.0.0.1:3000/sandbox/sms-gateway'],
    ['sandbox-500', 'http://127.0.0.1:3000/sandbox/sms-gateway/500'],
    ['sandbox-hang', 'http://127.0.0.1:3000/sandbox/sms-gateway/hang'],
  ]);
  expect(c.gatewayTimeoutMs).toBe(30_000);
  expect(c.otpHmacSecret?.length).toBeGreaterThanOrEqual(32);
  expect(c.vonageSms).toMatchObject({
    restHost: 'http://127.0.0.1:3000/sandbox/vonage-sms',
    callbackUrl: 'http://127.0.0.1:3000/webhooks/vonage-sms',
    signatureMethod: 'sha256',
  });
  expect(c.inbound).toMatchObject({
    subject: 'urn:Auth0',
    budgetMs: 25_000,
    routes: [{ provider: 'vonage' }, { provider: 'sms_gateway', gateway: 'sandbox' }],
    rateLimits: { recipient: { limit: 5, windowSeconds: 600 }, ip: { limit: 20, windowSeconds: 600 } },
  });
});

test('real configuration: gateways from SMS_GATEWAYS (base64 secret option), inbound routes default to Vonage then them', () => {
  const c = loadSmsConfig(
    {
      SMS_GATEWAYS: JSON.stringify([GATEWAY, { name: 'plain', url: 'http://10.0.0.1/sms', timeoutMs: 8000 }]),
      OTP_HMAC_SECRET: 'x'.repeat(32),
      VONAGE_API_KEY: 'key',
      VONAGE_API_SECRET: 'secret',
      SMS_INBOUND_SECRET: 'bXlzZWNyZXQ',
      SMS_INBOUND_SECRET_BASE64: 'true',
      SMS_INBOUND_AUDIENCE: 'urn:verifyflow',
      SMS_INBOUND_ID_SECRET: 'y'.repeat(32),
      SMS_INBOUND_RATE_LIMIT_IP: 'off',
      SMS_INBOUND_BUDGET_MS: '20000',
    },
    real,
  );
  expect(c.gateways).toEqual([
    { name: 'acme', url: GATEWAY.url, auth: { subject: 'urn:Auth0', audience: 'urn:Acme', secret: 'S3cr3t!' } },
    { name: 'plain', url: 'http://10.0.0.1/sms', timeoutMs: 8000 },
  ]);
  expect(c.vonageSms?.restHost).toBeUndefined();
  expect(c.inbound).toMatchObject({
    secretBase64: true,
    subject: 'urn:Auth0',
    audience: 'urn:verifyflow',
    budgetMs: 20_000,
    routes: [
      { provider: 'vonage' },
      { provider: 'sms_gateway', gateway: 'acme' },
      { provider: 'sms_gateway', gateway: 'plain' },
    ],
    rateLimits: { recipient: { limit: 5, windowSeconds: 600 }, ip: undefined },
  });
  // Nothing configured outside sandbox: no gateways, no OTP key, no Vonage SMS, inbound gateway off.
  expect(loadSmsConfig({}, real)).toEqual({ gateways: [], gatewayTimeoutMs: 30_000 });
});

test.each<[Record<string, string>, RegExp]>([
  [{ SMS_GATEWAYS: 'not json' }, /^SMS_GATEWAYS must be a JSON array/],
  [
    { SMS_GATEWAYS: JSON.stringify([{ ...GATEWAY, url: 'ftp://x' }]) },
    /^SMS_GATEWAYS: 0\.url: must be an http\(s\) URL/,
  ],
  [{ SMS_GATEWAYS: JSON.stringify([{ ...GATEWAY, audience: undefined }]) }, /needs subject and audience/],
  [
    { SMS_GATEWAYS: JSON.stringify([GATEWAY, GATEWAY]), OTP_HMAC_SECRET: 'x'.repeat(32) },
    /duplicate gateway name acme/,
  ],
  [{ SMS_GATEWAYS: JSON.stringify([GATEWAY]) }, /^OTP_HMAC_SECRET is required when SMS_GATEWAYS is set/],
  [{ OTP_HMAC_SECRET: 'short' }, /^OTP_HMAC_SECRET: OTP_HMAC_SECRET must be at least 32 characters/],
  [{ SMS_GATEWAY_TIMEOUT_MS: '200000' }, /^SMS_GATEWAY_TIMEOUT_MS: SMS_GATEWAY_TIMEOUT_MS must be at most 110000/],
  [
    { SMS_INBOUND_SECRET: 's' },
    /^SMS_INBOUND_AUDIENCE and SMS_INBOUND_ID_SECRET are required with SMS_INBOUND_SECRET$/,
  ],
  [
    { SMS_INBOUND_SECRET: 's', SMS_INBOUND_AUDIENCE: 'urn:x' },
    /^SMS_INBOUND_ID_SECRET is required with SMS_INBOUND_SECRET and SMS_INBOUND_AUDIENCE$/,
  ],
  [{ SMS_INBOUND_BUDGET_MS: '30000' }, /SMS_INBOUND_BUDGET_MS must be at most 29000/],
  [{ SMS_INBOUND_RATE_LIMIT_RECIPIENT: 'five' }, /SMS_INBOUND_RATE_LIMIT_RECIPIENT must be N\/SECONDS/],
  [{ VONAGE_API_KEY: 'k' }, /^VONAGE_API_SECRET is required with VONAGE_API_KEY$/],
  [{ VONAGE_API_SECRET: 's' }, /^VONAGE_API_KEY is required with VONAGE_API_SECRET$/],
  // The public sandbox values are refused outside sandbox mode (anyone can read them in this repository).
  [
    { OTP_HMAC_SECRET: 'sandbox-otp-hmac-secret-not-for-production' },
    /^OTP_HMAC_SECRET is the public sandbox value; it is refused outside sandbox mode$/,
  ],
  [{ VONAGE_API_KEY: 'abcd1234', VONAGE_API_SECRET: 'x' }, /^VONAGE_API_KEY is the public sandbox value/],
  [{ VONAGE_API_KEY: 'k', VONAGE_API_SECRET: 'sandbox-vonage-api-secret' }, /^VONAGE_API_SECRET is the public/],
  [{ SMS_INBOUND_SECRET: 'sandbox-sms-gateway-secret-not-for-production' }, /^SMS_INBOUND_SECRET is the public/],
  [{ SMS_INBOUND_ID_SECRET: 'sandbox-sms-id-secret-not-for-production' }, /^SMS_INBOUND_ID_SECRET is the public/],
  [
    {
      SMS_GATEWAYS: JSON.stringify([{ ...GATEWAY, secret: 'sandbox-gateway-secret-not-for-production' }]),
      OTP_HMAC_SECRET: 'x'.repeat(32),
    },
    /^SMS_GATEWAYS: gateway acme uses the public sandbox secret; refused outside sandbox mode$/,
  ],
])('%j → an error naming the variable', (env, message) => {
  let error: Error | undefined;
  try {
    loadSmsConfig(env, real);
  } catch (e) {
    error = e as Error;
  }
  expect(error?.message).toMatch(message);
  expect(error?.message).not.toContain('S3cr3t!');
});

test('SMS_INBOUND_ROUTES must name configured gateways', () => {
  expect(() => loadSmsConfig({ SMS_INBOUND_ROUTES: 'sms_gateway:nope' }, sandbox)).toThrow(
    'SMS_INBOUND_ROUTES: no gateway named nope in SMS_GATEWAYS',
  );
  expect(() => loadSmsConfig({ SMS_INBOUND_ROUTES: 'carrier-pigeon' }, sandbox)).toThrow(
    /neither vonage nor sms_gateway/,
  );
  expect(loadSmsConfig({ SMS_INBOUND_ROUTES: 'sms_gateway:sandbox-500, vonage' }, sandbox).inbound?.routes).toEqual([
    { provider: 'sms_gateway', gateway: 'sandbox-500' },
    { provider: 'vonage' },
  ]);
});
