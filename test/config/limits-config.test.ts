import { DEFAULT_ABUSE_LIMITS, loadLimitsConfig, parseCountries, parseLimit } from '../../src/config/limits-config';

/** The abuse guard's variables: defaults, every variable, `off`, errors that name the variable, the REDIS_URL rule. */
const hashSecret = Buffer.alloc(32, 7);
const single = { singleProcess: true, hashSecret };
const replicas = { singleProcess: false, hashSecret };

test('defaults: 5/10m, 10/24h, 50/10m per prefix of 3 dropped digits, 1000/1h per client, 15/1h failed checks', () => {
  const c = loadLimitsConfig({}, single);
  expect(c).toEqual({
    defaults: {
      sendsPerDestination: { points: 5, durationSeconds: 600 },
      sendsPerDestinationDay: { points: 10, durationSeconds: 86_400 },
      sendsPerPrefix: { points: 50, durationSeconds: 600 },
      sendsPerClient: { points: 1000, durationSeconds: 3600 },
      failedChecksPerDestination: { points: 15, durationSeconds: 3600 },
      prefixDropDigits: 3,
    },
    perClient: {},
    store: { kind: 'memory' },
    hashSecret,
    keyPrefix: 'verifyflow:guard',
  });
  expect(c.defaults).toEqual(DEFAULT_ABUSE_LIMITS);
  expect('allowedCountries' in c.defaults).toBe(false);
});

test('every variable is read', () => {
  const c = loadLimitsConfig(
    {
      LIMIT_SENDS_PER_DESTINATION: '3/90s',
      LIMIT_SENDS_PER_DESTINATION_DAY: '8/2d',
      LIMIT_SENDS_PER_PREFIX: '20/15m',
      LIMIT_SENDS_PER_CLIENT: '600/1h',
      LIMIT_FAILED_CHECKS_PER_DESTINATION: '10/30m',
      LIMIT_PREFIX_DROP_DIGITS: '4',
      LIMIT_KEY_PREFIX: 'staging:guard',
      ALLOWED_COUNTRIES: 'us, ca,FR',
      REDIS_URL: 'redis://:secret@redis.internal:6379/2',
    },
    replicas,
  );
  expect(c.defaults).toEqual({
    sendsPerDestination: { points: 3, durationSeconds: 90 },
    sendsPerDestinationDay: { points: 8, durationSeconds: 172_800 },
    sendsPerPrefix: { points: 20, durationSeconds: 900 },
    sendsPerClient: { points: 600, durationSeconds: 3600 },
    failedChecksPerDestination: { points: 10, durationSeconds: 1800 },
    prefixDropDigits: 4,
    allowedCountries: ['US', 'CA', 'FR'],
  });
  expect(c.store).toEqual({ kind: 'redis', url: 'redis://:secret@redis.internal:6379/2' });
  expect(c.keyPrefix).toBe('staging:guard');
  expect(loadLimitsConfig({ REDIS_URL: 'rediss://redis.internal' }, single).store.kind).toBe('redis');
});

test('off turns each limit off', () => {
  const names = [
    'LIMIT_SENDS_PER_DESTINATION',
    'LIMIT_SENDS_PER_DESTINATION_DAY',
    'LIMIT_SENDS_PER_PREFIX',
    'LIMIT_SENDS_PER_CLIENT',
    'LIMIT_FAILED_CHECKS_PER_DESTINATION',
  ];
  const c = loadLimitsConfig(Object.fromEntries(names.map((n) => [n, 'off'])), single);
  expect(c.defaults).toEqual({
    sendsPerDestination: null,
    sendsPerDestinationDay: null,
    sendsPerPrefix: null,
    sendsPerClient: null,
    failedChecksPerDestination: null,
    prefixDropDigits: 3,
  });
});

test('parseLimit: N/<int>s|m|h|d or off, for the clients file too', () => {
  expect(parseLimit('x', '5/10m')).toEqual({ points: 5, durationSeconds: 600 });
  expect(parseLimit('x', '10/24h')).toEqual({ points: 10, durationSeconds: 86_400 });
  expect(parseLimit('x', ' 600/1h ')).toEqual({ points: 600, durationSeconds: 3600 });
  expect(parseLimit('x', '2/2s')).toEqual({ points: 2, durationSeconds: 2 });
  expect(parseLimit('x', '1/365d')).toEqual({ points: 1, durationSeconds: 365 * 86_400 });
  expect(parseLimit('x', 'off')).toBeNull();
  for (const bad of ['', '5', '5/', '/10m', '5/10', '5/10w', '5/1.5h', '-1/10m', '5 / 10m', 'OFF', '5/10m,6/1h']) {
    expect(() => parseLimit('clients.acme.sendsPerClient', bad)).toThrow(/^clients\.acme\.sendsPerClient must be N\//);
  }
  expect(() => parseLimit('X', '0/10m')).toThrow(/^X must allow between 1 and/);
  expect(() => parseLimit('X', '5/0s')).toThrow(/^X must have a duration between 1s and 365d/);
  expect(() => parseLimit('X', '5/366d')).toThrow(/^X must have a duration/);
});

test('parseCountries: ISO 3166 alpha-2 codes, case-insensitive, deduplicated', () => {
  expect(parseCountries('X', 'gb,GB, de')).toEqual(['GB', 'DE']);
  expect(() => parseCountries('X', 'UK')).toThrow(/^X: UK is not an ISO 3166 alpha-2 country code/);
  expect(() => parseCountries('X', ' , ')).toThrow(/^X must list/);
});

test.each<[Record<string, string>, RegExp]>([
  [{ LIMIT_SENDS_PER_DESTINATION: '5 per 10m' }, /^LIMIT_SENDS_PER_DESTINATION must be N\/<duration>/],
  [{ LIMIT_SENDS_PER_DESTINATION_DAY: '10/24' }, /^LIMIT_SENDS_PER_DESTINATION_DAY must be N\/<duration>/],
  [{ LIMIT_SENDS_PER_PREFIX: '0/10m' }, /^LIMIT_SENDS_PER_PREFIX must allow between 1/],
  [{ LIMIT_SENDS_PER_CLIENT: '' }, /^LIMIT_SENDS_PER_CLIENT must be N\/<duration>/],
  [{ LIMIT_FAILED_CHECKS_PER_DESTINATION: 'none' }, /^LIMIT_FAILED_CHECKS_PER_DESTINATION must be N\/<duration>/],
  [{ LIMIT_PREFIX_DROP_DIGITS: 'three' }, /^LIMIT_PREFIX_DROP_DIGITS must be a whole number/],
  [{ LIMIT_PREFIX_DROP_DIGITS: '0' }, /^LIMIT_PREFIX_DROP_DIGITS must be between 1 and 8/],
  [{ LIMIT_PREFIX_DROP_DIGITS: '9' }, /^LIMIT_PREFIX_DROP_DIGITS must be between 1 and 8/],
  [{ LIMIT_KEY_PREFIX: 'a b' }, /^LIMIT_KEY_PREFIX must be 1-64 characters/],
  [{ ALLOWED_COUNTRIES: 'US,XX' }, /^ALLOWED_COUNTRIES: XX is not an ISO 3166 alpha-2 country code/],
  [{ ALLOWED_COUNTRIES: '' }, /^ALLOWED_COUNTRIES must list ISO 3166 alpha-2 country codes \(unset it to allow all\)/],
  [{ REDIS_URL: 'http://redis:6379' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL$/],
])('a bad value names the variable: %j', (env, message) => {
  expect(() => loadLimitsConfig(env, single)).toThrow(message);
});

test('every bad variable is reported at once, and a REDIS_URL is never echoed', () => {
  let message = '';
  try {
    loadLimitsConfig({ LIMIT_SENDS_PER_PREFIX: 'x', LIMIT_SENDS_PER_CLIENT: 'y', REDIS_URL: 'pw-s3cret' }, single);
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toMatch(/LIMIT_SENDS_PER_PREFIX.*; LIMIT_SENDS_PER_CLIENT.*; REDIS_URL/);
  expect(message).not.toContain('s3cret');
});

test('REDIS_URL: memory only for a single process; separate replicas without it are refused, saying why', () => {
  expect(loadLimitsConfig({}, single).store).toEqual({ kind: 'memory' });
  expect(() => loadLimitsConfig({}, replicas)).toThrow(
    /^REDIS_URL is required unless the API and the worker run in one process: abuse limits must be shared by every replica and survive restarts/,
  );
  expect(loadLimitsConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }, replicas).store).toEqual({
    kind: 'redis',
    url: 'redis://127.0.0.1:6379',
  });
});

test('the hash secret must be long enough to key an HMAC', () => {
  expect(() => loadLimitsConfig({}, { singleProcess: true, hashSecret: Buffer.alloc(8) })).toThrow(/at least 32 bytes/);
});
