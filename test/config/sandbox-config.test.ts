import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';
import { isLoopbackUrl, smsProviderCredentials } from '../../src/config/sms-config';

/**
 * When the sandbox runs: VERIFYFLOW_SANDBOX=true, or `auto` with no provider credential at all — never beside a real
 * one — and the public sandbox values are refused everywhere else.
 */
/** Separate API and worker processes share the abuse guard through Redis; API clients are needed outside sandbox. */
const base = {
  PORT: '3999',
  DATA_DIR: join(tmpdir(), 'verifyflow-test-data'),
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  REDIS_URL: 'redis://127.0.0.1:6379',
  API_KEYS: 'test:sha256:abababababababababababababababababababababababababababababababab',
};
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const VONAGE = {
  VONAGE_APPLICATION_ID: '00000000-0000-4000-8000-000000000001',
  VONAGE_PRIVATE_KEY: privateKey,
  VONAGE_SIGNATURE_SECRET: 'a-real-signature-secret',
};
const CODEC = { PAYLOAD_CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}` };
const STRIPE = { STRIPE_SECRET_KEY: 'sk_live_abc123', STRIPE_WEBHOOK_SECRET: 'whsec_abc123' };
const TWILIO = {
  TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
  TWILIO_AUTH_TOKEN: 'a-real-twilio-auth-token',
  TWILIO_VERIFY_SERVICE_SID: `VA${'b'.repeat(32)}`,
};
const gateways = (...urls: string[]) =>
  JSON.stringify(
    urls.map((url, i) => ({ name: `gw${i}`, url, subject: 'urn:s', audience: 'urn:a', secret: 'a-gateway-secret' })),
  );

const errorOf = (env: Record<string, string>): string => {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('auto (the default)', () => {
  test('nothing configured → sandbox, every emulator, the codec server open to loopback callers', () => {
    const c = loadConfig(base);
    expect(c.sandbox).toBe(true);
    expect(c.vonage.apiHost).toBe('http://127.0.0.1:3999/sandbox/vonage');
    expect(c.stripe?.apiBase).toBe('http://127.0.0.1:3999/sandbox/stripe');
    expect(c.twilio?.apiBase).toBe('http://127.0.0.1:3999/sandbox/twilio');
    expect(c.codec.allowUnauthenticated).toBe(true);
  });

  test('endpoints, our own secrets and loopback gateways are not provider credentials: still sandbox', () => {
    const c = loadConfig({
      ...base,
      ...CODEC,
      VONAGE_API_HOST: 'http://127.0.0.1:9/vonage',
      STRIPE_API_BASE: 'http://127.0.0.1:12111',
      OTP_HMAC_SECRET: 'o'.repeat(32),
      SMS_INBOUND_ID_SECRET: 'i'.repeat(32),
      SMS_GATEWAYS: gateways('http://127.0.0.1:8080/sms', 'http://localhost:8081/sms', 'http://[::1]:8082/sms'),
    });
    expect(c.sandbox).toBe(true);
    expect(c.sms.gateways.map((g) => g.name)).toEqual(['sandbox', 'sandbox-500', 'sandbox-hang', 'gw0', 'gw1', 'gw2']);
  });

  test('a public sandbox value set by hand is not a credential either', () => {
    expect(loadConfig({ ...base, STRIPE_SECRET_KEY: 'sk_test_sandbox_not_for_production' }).sandbox).toBe(true);
  });

  test('Vonage Verify credentials → production', () => {
    const c = loadConfig({ ...base, ...VONAGE, ...CODEC });
    expect(c.sandbox).toBe(false);
    expect(c.vonage.apiHost).toBeUndefined();
    expect(c.stripe).toBeUndefined();
    expect(c.twilio).toBeUndefined();
    expect(c.sms.inbound).toBeUndefined();
    expect(c.codec.allowUnauthenticated).toBe(false);
  });

  test.each<[string, Record<string, string>, string]>([
    ['Stripe', STRIPE, 'STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET'],
    ['Twilio', TWILIO, 'TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_VERIFY_SERVICE_SID'],
    [
      'the Vonage SMS API',
      { VONAGE_API_KEY: 'key', VONAGE_API_SECRET: 'secret' },
      'VONAGE_API_KEY and VONAGE_API_SECRET',
    ],
    ['the inbound gateway secret', { SMS_INBOUND_SECRET: 'in' }, 'SMS_INBOUND_SECRET'],
    [
      'a gateway beyond loopback',
      { SMS_GATEWAYS: gateways('http://127.0.0.1:8080/sms', 'https://sms.example.com/send') },
      'SMS_GATEWAYS (gw1)',
    ],
    ['a Vonage private key alone', { VONAGE_PRIVATE_KEY: privateKey }, 'VONAGE_PRIVATE_KEY'],
  ])('%s alone → production, which then names the missing Vonage Verify credentials', (_what, env, named) => {
    const message = errorOf({ ...env, ...CODEC });
    expect(message).toMatch(/^invalid configuration: VONAGE_\w+( and|,) .* required outside sandbox mode/);
    expect(message).toContain(`(provider credentials are set: ${named}; the sandbox runs only when none is)`);
    expect(message).not.toContain(privateKey);
  });

  test('live Stripe and Twilio with Vonage: production with each of them, never an emulator', () => {
    const c = loadConfig({ ...base, ...VONAGE, ...CODEC, ...STRIPE, ...TWILIO });
    expect(c.sandbox).toBe(false);
    expect(c.stripe).toEqual({ secretKey: 'sk_live_abc123', webhookSecret: 'whsec_abc123', apiBase: undefined });
    expect(c.twilio).toMatchObject({ accountSid: TWILIO.TWILIO_ACCOUNT_SID, apiBase: undefined });
  });

  test("Twilio Verify's custom friendly name: off unless configured outside the sandbox (an account feature), on in it", () => {
    const live = { ...base, ...VONAGE, ...CODEC, ...TWILIO };
    expect(loadConfig(live).twilio?.customFriendlyName).toBe(false);
    expect(loadConfig({ ...live, TWILIO_VERIFY_CUSTOM_FRIENDLY_NAME: 'true' }).twilio?.customFriendlyName).toBe(true);
    expect(loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true' }).twilio?.customFriendlyName).toBe(true);
    expect(errorOf({ ...VONAGE, ...CODEC, ...TWILIO, TWILIO_VERIFY_CUSTOM_FRIENDLY_NAME: 'yes' })).toContain(
      'TWILIO_VERIFY_CUSTOM_FRIENDLY_NAME must be true or false',
    );
  });
});

describe('production: an incompletely configured provider is refused, naming exactly what is missing', () => {
  const prod = { ...VONAGE, ...CODEC };
  test.each<[Record<string, string>, string]>([
    [
      { TWILIO_ACCOUNT_SID: TWILIO.TWILIO_ACCOUNT_SID },
      'TWILIO_AUTH_TOKEN and TWILIO_VERIFY_SERVICE_SID are required with TWILIO_ACCOUNT_SID',
    ],
    [
      { TWILIO_AUTH_TOKEN: TWILIO.TWILIO_AUTH_TOKEN },
      'TWILIO_ACCOUNT_SID and TWILIO_VERIFY_SERVICE_SID are required with TWILIO_AUTH_TOKEN',
    ],
    [
      { TWILIO_ACCOUNT_SID: TWILIO.TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: TWILIO.TWILIO_AUTH_TOKEN },
      'TWILIO_VERIFY_SERVICE_SID is required with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN',
    ],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_abc' }, 'STRIPE_SECRET_KEY is required with STRIPE_WEBHOOK_SECRET'],
    [{ VONAGE_API_SECRET: 'secret' }, 'VONAGE_API_KEY is required with VONAGE_API_SECRET'],
  ])('%j', (env, message) => {
    expect(errorOf({ ...prod, ...env })).toContain(message);
  });

  test('VERIFYFLOW_SANDBOX=false with nothing set names all three Vonage Verify variables', () => {
    expect(errorOf({ VERIFYFLOW_SANDBOX: 'false', ...CODEC })).toBe(
      'invalid configuration: VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY and VONAGE_SIGNATURE_SECRET are required ' +
        'outside sandbox mode',
    );
  });

  test('VERIFYFLOW_SANDBOX=false with Vonage partly configured names the one missing', () => {
    const { VONAGE_SIGNATURE_SECRET: _, ...partial } = VONAGE;
    expect(errorOf({ VERIFYFLOW_SANDBOX: 'false', ...partial, ...CODEC })).toBe(
      'invalid configuration: VONAGE_SIGNATURE_SECRET is required outside sandbox mode',
    );
  });

  test('auto with Vonage only partly configured names the missing ones', () => {
    expect(errorOf({ VONAGE_APPLICATION_ID: VONAGE.VONAGE_APPLICATION_ID, ...CODEC })).toBe(
      'invalid configuration: VONAGE_PRIVATE_KEY and VONAGE_SIGNATURE_SECRET are required outside sandbox mode ' +
        '(provider credentials are set: VONAGE_APPLICATION_ID; the sandbox runs only when none is)',
    );
  });
});

describe('VERIFYFLOW_SANDBOX=true', () => {
  test('with no credential: sandbox', () => {
    expect(loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true' }).sandbox).toBe(true);
  });

  test('with any real credential: refused, naming every one', () => {
    expect(errorOf({ VERIFYFLOW_SANDBOX: 'true', ...VONAGE, ...STRIPE })).toBe(
      'invalid configuration: VERIFYFLOW_SANDBOX=true, but provider credentials are set: VONAGE_APPLICATION_ID, ' +
        'VONAGE_PRIVATE_KEY, VONAGE_SIGNATURE_SECRET, STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET. The sandbox never ' +
        'runs beside a real provider: unset them, or set VERIFYFLOW_SANDBOX to auto or false',
    );
    const real: Record<string, string>[] = [
      { TWILIO_AUTH_TOKEN: TWILIO.TWILIO_AUTH_TOKEN },
      { VONAGE_API_KEY: 'key' },
      { SMS_INBOUND_SECRET: 'inbound-secret' },
      { SMS_GATEWAYS: gateways('https://sms.example.com/send') },
      { SMS_GATEWAYS: gateways('http://10.0.0.7/sms') },
    ];
    for (const env of real) {
      expect(errorOf({ VERIFYFLOW_SANDBOX: 'true', ...env })).toMatch(
        /VERIFYFLOW_SANDBOX=true, but provider credentials/,
      );
    }
  });

  test('loopback test gateways (with their secrets) and public sandbox values are allowed', () => {
    const c = loadConfig({
      ...base,
      VERIFYFLOW_SANDBOX: 'true',
      SMS_GATEWAYS: gateways('http://127.0.0.1:4000/gw'),
      TWILIO_AUTH_TOKEN: 'sandbox-twilio-auth-token-not-for-production',
    });
    expect(c.sandbox).toBe(true);
    expect(c.sms.gateways.find((g) => g.name === 'gw0')?.auth?.secret).toBe('a-gateway-secret');
  });
});

describe('the public sandbox values are refused outside sandbox mode', () => {
  const prod = { ...VONAGE, ...CODEC };
  test.each<[Record<string, string>, string]>([
    [{ VONAGE_SIGNATURE_SECRET: 'sandbox-signature-secret-not-for-production' }, 'VONAGE_SIGNATURE_SECRET'],
    [{ VONAGE_APPLICATION_ID: '00000000-0000-4000-8000-000000000000' }, 'VONAGE_APPLICATION_ID'],
    [{ ...STRIPE, STRIPE_SECRET_KEY: 'sk_test_sandbox_not_for_production' }, 'STRIPE_SECRET_KEY'],
    [{ ...STRIPE, STRIPE_WEBHOOK_SECRET: 'whsec_sandbox_not_for_production' }, 'STRIPE_WEBHOOK_SECRET'],
    [{ ...TWILIO, TWILIO_AUTH_TOKEN: 'sandbox-twilio-auth-token-not-for-production' }, 'TWILIO_AUTH_TOKEN'],
    [{ ...TWILIO, TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}` }, 'TWILIO_ACCOUNT_SID'],
    [{ ...TWILIO, TWILIO_VERIFY_SERVICE_SID: `VA${'0'.repeat(32)}` }, 'TWILIO_VERIFY_SERVICE_SID'],
  ])('%j', (env, name) => {
    expect(errorOf({ ...prod, ...env })).toBe(
      `invalid configuration: ${name} is a public sandbox value; refused outside sandbox mode`,
    );
  });

  test('the SMS ones too (sms-config.ts), in production mode whatever decided it', () => {
    expect(errorOf({ ...prod, OTP_HMAC_SECRET: 'sandbox-otp-hmac-secret-not-for-production' })).toBe(
      'invalid configuration: OTP_HMAC_SECRET is the public sandbox value; it is refused outside sandbox mode',
    );
    expect(
      errorOf({
        VERIFYFLOW_SANDBOX: 'false',
        ...prod,
        SMS_INBOUND_ID_SECRET: 'sandbox-sms-id-secret-not-for-production',
      }),
    ).toMatch(/SMS_INBOUND_ID_SECRET is the public sandbox value/);
  });
});

test('the codec server is open without a token only in sandbox mode on a loopback HOST', () => {
  expect(loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true' }).codec.allowUnauthenticated).toBe(true);
  expect(loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true', HOST: '0.0.0.0' }).codec.allowUnauthenticated).toBe(false);
  expect(
    loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true', CODEC_SERVER_TOKEN: 't'.repeat(24) }).codec.allowUnauthenticated,
  ).toBe(false);
  expect(loadConfig({ ...base, ...VONAGE, ...CODEC }).codec.allowUnauthenticated).toBe(false);
});

test('loopback URLs', () => {
  for (const url of ['http://127.0.0.1/x', 'http://127.9.9.9:1/x', 'http://localhost:8080', 'http://[::1]:9/x']) {
    expect([url, isLoopbackUrl(url)]).toEqual([url, true]);
  }
  expect(isLoopbackUrl('http://[::ffff:127.0.0.1]/x')).toBe(true);
  for (const url of [
    'https://sms.example.com',
    'http://10.0.0.1',
    'http://0.0.0.0',
    'http://[::]:1',
    'http://localhost.example.com',
    'http://127.0.0.1.nip.io',
  ]) {
    expect([url, isLoopbackUrl(url)]).toEqual([url, false]);
  }
  expect(
    smsProviderCredentials({ SMS_GATEWAYS: gateways('http://127.0.0.1:1/a', 'http://sms.example.com/b') }),
  ).toEqual(['SMS_GATEWAYS (gw1)']);
});
