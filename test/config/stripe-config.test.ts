import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';

/** The Stripe variables: sandbox defaults, real configuration, and errors that name the variable. */
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
const real = {
  ...base,
  VERIFYFLOW_SANDBOX: 'false',
  VONAGE_APPLICATION_ID: '00000000-0000-4000-8000-000000000001',
  VONAGE_PRIVATE_KEY: privateKey,
  VONAGE_SIGNATURE_SECRET: 'a-real-signature-secret',
  PAYLOAD_CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}`,
};

test('sandbox: the emulator under PUBLIC_URL with sandbox keys', () => {
  const c = loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true' });
  expect(c.stripe).toEqual({
    secretKey: 'sk_test_sandbox_not_for_production',
    webhookSecret: 'whsec_sandbox_not_for_production',
    apiBase: 'http://127.0.0.1:3999/sandbox/stripe',
  });
});

test('real configuration: key, webhook secret, optional API base; identity is off without a key', () => {
  const c = loadConfig({ ...real, STRIPE_SECRET_KEY: 'sk_live_abc123', STRIPE_WEBHOOK_SECRET: 'whsec_abc123' });
  expect(c.stripe).toEqual({ secretKey: 'sk_live_abc123', webhookSecret: 'whsec_abc123', apiBase: undefined });
  const proxied = loadConfig({
    ...real,
    STRIPE_SECRET_KEY: 'rk_test_abc',
    STRIPE_WEBHOOK_SECRET: 'whsec_abc',
    STRIPE_API_BASE: 'http://127.0.0.1:12111',
  });
  expect(proxied.stripe?.apiBase).toBe('http://127.0.0.1:12111');
  expect(loadConfig(real).stripe).toBeUndefined();
});

test('errors name the variable', () => {
  expect(() => loadConfig({ ...real, STRIPE_SECRET_KEY: 'sk_live_abc123' })).toThrow(
    new ConfigError('invalid configuration: STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY'),
  );
  expect(() => loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true', STRIPE_SECRET_KEY: 'pk_test_public' })).toThrow(
    /STRIPE_SECRET_KEY: STRIPE_SECRET_KEY must be a secret/,
  );
  expect(() => loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true', STRIPE_WEBHOOK_SECRET: 'nope' })).toThrow(
    /STRIPE_WEBHOOK_SECRET must start with whsec_/,
  );
  expect(() => loadConfig({ ...base, VERIFYFLOW_SANDBOX: 'true', STRIPE_API_BASE: 'not a url' })).toThrow(
    /STRIPE_API_BASE must be a URL/,
  );
});
