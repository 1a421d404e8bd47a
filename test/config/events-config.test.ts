import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAuthConfig, SANDBOX_EVENTS_SECRET } from '../../src/config/auth-config';
import { ClientSettings } from '../../src/auth/client-settings';
import { loadConfig } from '../../src/config/config';
import { testConfig } from '../support/stack';

/** A client's events endpoint in CLIENTS_FILE, and the sandbox client's (SANDBOX_EVENTS): validated at startup. */
const SECRET = 'whsec_' + Buffer.from('a-secret-of-at-least-24-bytes!').toString('base64');
const KEY = 'sha256:' + 'a'.repeat(64);
const clientsFile = (events: unknown): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'events-config-')), 'clients.json');
  writeFileSync(file, JSON.stringify({ clients: [{ id: 'acme', keys: [KEY], events }] }));
  return file;
};
/** A configuration with real provider credentials (no sandbox). */
const real = {
  PORT: '3999',
  DATA_DIR: join(tmpdir(), 'verifyflow-test-data'),
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  REDIS_URL: 'redis://127.0.0.1:6379',
  API_KEYS: `test:${KEY}`,
  PAYLOAD_CODEC_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  VONAGE_APPLICATION_ID: '00000000-0000-4000-8000-000000000001',
  VONAGE_PRIVATE_KEY: generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey,
  VONAGE_SIGNATURE_SECRET: 'a-real-signature-secret',
};
const load = (events: unknown, sandbox = false) => loadAuthConfig({ CLIENTS_FILE: clientsFile(events) }, { sandbox });

test('an events endpoint: https URL and a Standard Webhooks secret; the runs get the events option', () => {
  const auth = load({ url: 'https://acme.example/hooks', secret: SECRET, fields: ['to'] });
  expect(auth.clients.acme.events).toEqual({ url: 'https://acme.example/hooks', secret: SECRET, fields: ['to'] });
  const settings = new ClientSettings(auth.clients);
  expect(settings.eventsOption('acme')).toEqual({ fields: ['to'] });
  // Off by default: a client without `events`, or unknown, gets no option at all.
  expect(settings.eventsOption('other')).toBeUndefined();
  expect(new ClientSettings(load(undefined).clients).eventsOption('acme')).toBeUndefined();
});

test('bad events settings are refused, naming the field', () => {
  expect(() => load({ url: 'https://acme.example/hooks', secret: 'not-a-secret' })).toThrow(/events\.secret/);
  expect(() => load({ url: 'https://acme.example/hooks', secret: 'whsec_c2hvcnQ=' })).toThrow(/events\.secret/);
  expect(() => load({ url: 'ftp://acme.example/hooks', secret: SECRET })).toThrow(/events\.url/);
  expect(() => load({ url: 'https://acme.example/hooks', secret: SECRET, fields: ['code'] })).toThrow(/events\.fields/);
  expect(() => load({ url: 'http://acme.example/hooks', secret: SECRET })).toThrow(/events\.url must be https/);
  expect(load({ url: 'http://127.0.0.1:8080/hooks', secret: SECRET }).clients.acme.events?.url).toBe(
    'http://127.0.0.1:8080/hooks',
  );
  expect(load({ url: 'http://acme.example/hooks', secret: SECRET }, true).clients.acme.events).toBeDefined();
  expect(() => load({ url: 'https://acme.example/hooks', secret: SANDBOX_EVENTS_SECRET })).toThrow(
    /public sandbox secret/,
  );
});

test('SANDBOX_EVENTS points the sandbox client at the sandbox receiver, in sandbox mode only', () => {
  const config = testConfig(3999, { SANDBOX_EVENTS: 'true' });
  expect(config.auth.clients.sandbox.events).toEqual({
    url: 'http://127.0.0.1:3999/sandbox/events',
    secret: SANDBOX_EVENTS_SECRET,
  });
  expect(testConfig(3999).auth.clients.sandbox.events).toBeUndefined();
  // With real providers configured it is refused.
  expect(loadConfig(real).auth.clients.sandbox).toBeUndefined();
  expect(() => loadConfig({ ...real, SANDBOX_EVENTS: 'true' })).toThrow(/SANDBOX_EVENTS=true is for sandbox mode only/);
});

test('npm run dev sends the sandbox client events by default (sandboxEventsByDefault); SANDBOX_EVENTS=false turns it off', () => {
  const sandbox = {
    PORT: '3999',
    DATA_DIR: join(tmpdir(), 'verifyflow-test-data'),
    TEMPORAL_ADDRESS: '127.0.0.1:7233',
    VERIFYFLOW_SANDBOX: 'true',
  };
  const dev = { singleProcess: true, sandboxEventsByDefault: true };
  expect(loadConfig(sandbox, dev).auth.clients.sandbox.events).toEqual({
    url: 'http://127.0.0.1:3999/sandbox/events',
    secret: SANDBOX_EVENTS_SECRET,
  });
  expect(loadConfig({ ...sandbox, SANDBOX_EVENTS: 'false' }, dev).auth.clients.sandbox.events).toBeUndefined();
  expect(loadConfig(sandbox, { singleProcess: true }).auth.clients.sandbox.events).toBeUndefined();
  // Outside the sandbox the default does nothing (and nothing is refused).
  expect(loadConfig(real, dev).auth.clients.sandbox).toBeUndefined();
});
