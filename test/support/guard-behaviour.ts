import type { GuardVerdict } from '../../activities/abuse-guard';
import type { RateLimiterAbuseGuard } from '../../src/auth/abuse-guard';
import {
  DEFAULT_ABUSE_LIMITS,
  parseLimit,
  type AbuseLimits,
  type GuardConfig,
  type GuardLimit,
} from '../../src/config/limits-config';

/** `5/10m` → the limit (tests read like the configuration). */
export const limit = (spec: string): GuardLimit | null => parseLimit('test', spec);

/** The n-th number of one 1000-number block (+1 415 555 0xxx): all share the prefix +14155550. */
export const sequential = (n: number): string => `+1415555${String(100 + n).padStart(4, '0')}`;

export const US = '+14155550100';
export const CA = '+16135550100';
export const FR = '+33612345678';

let configs = 0;

/** A guard configuration with its own key prefix (so tests sharing one Redis never see each other's counts). */
export function guardConfig(
  defaults: Partial<AbuseLimits> = {},
  perClient: Record<string, Partial<AbuseLimits>> = {},
): GuardConfig {
  return {
    defaults: { ...DEFAULT_ABUSE_LIMITS, ...defaults },
    perClient,
    store: { kind: 'memory' },
    hashSecret: Buffer.from('test-guard-hash-secret-0123456789abcdef'),
    keyPrefix: `test:${process.pid}:${++configs}`,
  };
}

/** Sends `count` times; the verdicts, in order. */
export async function sendTimes(
  guard: RateLimiterAbuseGuard,
  client: string,
  destination: string,
  count: number,
): Promise<GuardVerdict[]> {
  const verdicts: GuardVerdict[] = [];
  for (let i = 0; i < count; i++) verdicts.push(await guard.consumeSend(client, destination));
  return verdicts;
}

const allowed = (verdicts: GuardVerdict[]) => verdicts.filter((v) => v.allowed).length;

/** Refused by a counted limit of `scope`, with a retry-after within [min, max] seconds. */
function expectRefused(verdict: GuardVerdict, scope: string, min: number, max: number): void {
  expect(verdict).toMatchObject({ allowed: false, scope });
  const seconds = (verdict as { retryAfterSeconds: number }).retryAfterSeconds;
  expect(seconds).toBeGreaterThanOrEqual(min);
  expect(seconds).toBeLessThanOrEqual(max);
}

const COUNTRY = { allowed: false, scope: 'country', reason: 'destination_not_allowed' };

/**
 * The guard's behaviour, the same on every store. `make` builds a guard over the store under test; calling it twice
 * with one config gives two replicas of one deployment. Guards are closed after each test.
 */
export function guardBehaviour(make: (config: GuardConfig) => RateLimiterAbuseGuard): void {
  const open: RateLimiterAbuseGuard[] = [];
  const guard = (config: GuardConfig) => {
    const g = make(config);
    open.push(g);
    return g;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((g) => g.close()));
  });

  test('destination: 5 sends in 10 minutes, the 6th refused until the window ends; other destinations unaffected', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('5/10m') }));
    expect(allowed(await sendTimes(g, 'acme', US, 5))).toBe(5);
    expectRefused(await g.consumeSend('acme', US), 'destination', 590, 600);
    expect(await g.consumeSend('acme', CA)).toEqual({ allowed: true });
  });

  test('destination_day: the daily limit refuses with a retry-after of up to a day', async () => {
    const g = guard(guardConfig({ sendsPerDestination: null, sendsPerDestinationDay: limit('3/24h') }));
    expect(allowed(await sendTimes(g, 'acme', US, 3))).toBe(3);
    expectRefused(await g.consumeSend('acme', US), 'destination_day', 86_390, 86_400);
  });

  test('when several scopes are exhausted, the one that frees last is reported', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('2/10m'), sendsPerDestinationDay: limit('2/24h') }));
    await sendTimes(g, 'acme', US, 2);
    expectRefused(await g.consumeSend('acme', US), 'destination_day', 86_390, 86_400);
  });

  test('prefix: 20 sequential numbers of one prefix share its limit; the 21st is refused, another prefix is not', async () => {
    const g = guard(guardConfig({ sendsPerPrefix: limit('20/10m') }));
    for (let n = 0; n < 20; n++) expect(await g.consumeSend('acme', sequential(n))).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', sequential(20)), 'prefix', 590, 600);
    expectRefused(await g.consumeSend('other-client', sequential(50)), 'prefix', 590, 600);
    expect(await g.consumeSend('acme', '+14155551100')).toEqual({ allowed: true });
  });

  test('a number is counted the same however it is spaced', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('2/10m') }));
    expect(await g.consumeSend('acme', '+1 415 555 0100')).toEqual({ allowed: true });
    expect(await g.consumeSend('acme', ' +14155550100 ')).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', US), 'destination', 590, 600);
  });

  test('client: the API client limit counts its sends to every destination; other clients unaffected', async () => {
    const g = guard(guardConfig({ sendsPerClient: limit('3/1h') }));
    for (const d of [US, CA, FR]) expect(await g.consumeSend('acme', d)).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', sequential(7)), 'client', 3590, 3600);
    expect(await g.consumeSend('globex', sequential(7))).toEqual({ allowed: true });
  });

  test('a refused send counts nothing: the other scopes are left untouched', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('2/10m'), sendsPerClient: limit('5/1h') }));
    await sendTimes(g, 'acme', US, 2);
    // Refused by destination three times: the client scope must still hold 2, not 5.
    for (let i = 0; i < 3; i++) expect((await g.consumeSend('acme', US)).allowed).toBe(false);
    for (const d of [CA, FR, sequential(300)]) expect(await g.consumeSend('acme', d)).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', sequential(400)), 'client', 3590, 3600);

    // Refused by client: the destination it was for was not counted either.
    const h = guard(guardConfig({ sendsPerDestination: limit('1/10m'), sendsPerClient: limit('1/1h') }));
    expect(await h.consumeSend('acme', US)).toEqual({ allowed: true });
    expectRefused(await h.consumeSend('acme', CA), 'client', 3590, 3600);
    expect(await h.consumeSend('globex', CA)).toEqual({ allowed: true });
  });

  test('refund gives one send back in every scope; a refund with nothing counted grants nothing', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('2/10m'), sendsPerClient: limit('3/1h') }));
    await g.refundSend('acme', US);
    expect(allowed(await sendTimes(g, 'acme', US, 3))).toBe(2);
    await g.refundSend('acme', US);
    expect(await g.consumeSend('acme', US)).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', US), 'destination', 590, 600);
    // The client scope got its point back too: 2 counted, one more allowed.
    expect(await g.consumeSend('acme', CA)).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', FR), 'client', 3590, 3600);
  });

  test('peek counts nothing and answers what a send would', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('3/10m') }));
    for (let i = 0; i < 10; i++) expect(await g.peekSend('acme', US)).toEqual({ allowed: true });
    expect(allowed(await sendTimes(g, 'acme', US, 3))).toBe(3);
    expectRefused(await g.peekSend('acme', US), 'destination', 590, 600);
  });

  test('failed checks: past the limit, checks and sends for the destination are refused until the window ends', async () => {
    const g = guard(
      guardConfig({
        failedChecksPerDestination: limit('2/2s'),
        sendsPerDestination: null,
        sendsPerDestinationDay: null,
        sendsPerClient: limit('10/1h'),
      }),
    );
    await g.recordFailedCheck('acme', US);
    expect(await g.checkAllowed('acme', US)).toEqual({ allowed: true });
    expect(await g.consumeSend('acme', US)).toEqual({ allowed: true });
    await g.recordFailedCheck('acme', US);

    expectRefused(await g.checkAllowed('acme', US), 'failed_checks', 1, 2);
    expectRefused(await g.checkAllowed('another-client', US), 'failed_checks', 1, 2);
    expectRefused(await g.consumeSend('acme', US), 'failed_checks', 1, 2);
    expectRefused(await g.peekSend('acme', US), 'failed_checks', 1, 2);
    // More failures while locked do not extend the lock.
    await g.recordFailedCheck('acme', US);
    expect(await g.checkAllowed('acme', CA)).toEqual({ allowed: true });
    expect(await g.consumeSend('acme', CA)).toEqual({ allowed: true });

    await new Promise((r) => setTimeout(r, 2200));
    expect(await g.checkAllowed('acme', US)).toEqual({ allowed: true });
    expect(await g.consumeSend('acme', US)).toEqual({ allowed: true });
    // The refused sends counted nothing: 3 of 10 client sends used.
    expect(allowed(await sendTimes(g, 'acme', sequential(500), 8))).toBe(7);
  });

  test('allowed countries: another country is refused (counting nothing); e-mail never is', async () => {
    const g = guard(guardConfig({ allowedCountries: ['US', 'CA'], sendsPerClient: limit('2/1h') }));
    expect(await g.consumeSend('acme', FR)).toEqual(COUNTRY);
    expect(await g.peekSend('acme', FR)).toEqual(COUNTRY);
    expect(await g.consumeSend('acme', '+80012345678')).toEqual(COUNTRY); // no single country
    expect(await g.consumeSend('acme', 'not a number')).toEqual(COUNTRY);
    expect(await g.consumeSend('acme', US)).toEqual({ allowed: true });
    expect(await g.consumeSend('acme', CA)).toEqual({ allowed: true });
    const h = guard(guardConfig({ allowedCountries: ['US'] }));
    expect(await h.consumeSend('acme', 'someone@example.fr')).toEqual({ allowed: true });
  });

  test('e-mail destinations: trimmed and lower-cased; the domain is the prefix', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('2/10m'), sendsPerPrefix: limit('3/10m') }));
    expect(await g.consumeSend('acme', ' Alice@Example.COM ')).toEqual({ allowed: true });
    expect(await g.consumeSend('acme', 'alice@example.com')).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', 'ALICE@example.com'), 'destination', 590, 600);
    expect(await g.consumeSend('acme', 'bob@example.com')).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('acme', 'carol@EXAMPLE.com'), 'prefix', 590, 600);
    expect(await g.consumeSend('acme', 'dave@example.org')).toEqual({ allowed: true });
    await g.recordFailedCheck('acme', 'Dave@Example.org');
    expect(await g.checkAllowed('acme', 'dave@example.org')).toEqual({ allowed: true });
  });

  test('per-client overrides: own limits compared with the shared count, own countries, own lock, own prefix width', async () => {
    const g = guard(
      guardConfig(
        { sendsPerDestination: limit('2/10m'), failedChecksPerDestination: limit('2/1h') },
        {
          vip: { sendsPerDestination: limit('4/10m') },
          tight: { sendsPerClient: limit('1/1h') },
          'fr-only': { allowedCountries: ['FR'] },
          'no-lock': { failedChecksPerDestination: null },
          wide: { prefixDropDigits: 5, sendsPerPrefix: limit('3/10m') },
          unset: { sendsPerDestination: undefined },
        },
      ),
    );
    const LOCKED = '+16135550199';
    // The destination's count is shared: vip may take it from 2 to 4, others stop at 2.
    expect(allowed(await sendTimes(g, 'acme', US, 2))).toBe(2);
    expectRefused(await g.consumeSend('acme', US), 'destination', 590, 600);
    expectRefused(await g.consumeSend('unset', US), 'destination', 590, 600);
    expect(allowed(await sendTimes(g, 'vip', US, 3))).toBe(2);
    expectRefused(await g.consumeSend('vip', US), 'destination', 590, 600);

    expect(await g.consumeSend('tight', CA)).toEqual({ allowed: true });
    expectRefused(await g.consumeSend('tight', FR), 'client', 3590, 3600);
    expect(await g.consumeSend('acme', FR)).toEqual({ allowed: true });

    expect(await g.consumeSend('fr-only', CA)).toEqual(COUNTRY);
    expect(await g.consumeSend('fr-only', '+33612345679')).toEqual({ allowed: true });

    await g.recordFailedCheck('acme', LOCKED);
    await g.recordFailedCheck('acme', LOCKED);
    expectRefused(await g.checkAllowed('acme', LOCKED), 'failed_checks', 3590, 3600);
    expect(await g.checkAllowed('no-lock', LOCKED)).toEqual({ allowed: true });
    expect(await g.consumeSend('no-lock', LOCKED)).toEqual({ allowed: true });

    // wide: the prefix drops 5 digits, so +1415555 0700, 1700 and 2700 share +141555.
    for (const d of ['+14155550700', '+14155551700', '+14155552700']) {
      expect(await g.consumeSend('wide', d)).toEqual({ allowed: true });
    }
    expectRefused(await g.consumeSend('wide', '+14155553700'), 'prefix', 590, 600);
    expect(await g.consumeSend('acme', '+14155553700')).toEqual({ allowed: true });
  });

  test('store keys hold no destination: phone numbers, prefixes and e-mail addresses are HMACs', async () => {
    const config = guardConfig({ allowedCountries: undefined });
    const g = guard(config);
    await g.consumeSend('acme', US);
    await g.consumeSend('acme', 'Alice@Example.com');
    await g.recordFailedCheck('acme', US);
    await g.recordFailedCheck('acme', 'alice@example.com');
    const keys = await g.storeKeys();
    // destination, destination_day, prefix and client for two sends (one client key), failed checks for both.
    expect(keys).toHaveLength(9);
    for (const key of keys) {
      expect(key.startsWith(`${config.keyPrefix}:`)).toBe(true);
      for (const pii of ['4155550100', '14155550', 'alice', 'example']) expect(key.toLowerCase()).not.toContain(pii);
    }
    expect(keys.filter((k) => k.endsWith(':acme'))).toHaveLength(1);
  });

  test('50 concurrent sends to one destination with a limit of 5: exactly 5 allowed, the others counted nowhere', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('5/10m'), sendsPerClient: limit('7/1h') }));
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => g.consumeSend('acme', US)));
    expect(allowed(verdicts)).toBe(5);
    for (const v of verdicts.filter((v) => !v.allowed)) expect(v).toMatchObject({ scope: 'destination' });
    // The client scope holds exactly the 5 allowed sends, and the destination exactly 5 (a refund frees one).
    expect(allowed(await sendTimes(g, 'acme', CA, 3))).toBe(2);
    await g.refundSend('acme', US);
    expect(await g.consumeSend('globex', US)).toEqual({ allowed: true });
  });

  test('50 concurrent checks with 5 failed checks left: exactly 5 evaluated; right codes give their point back', async () => {
    const g = guard(guardConfig({ failedChecksPerDestination: limit('5/1h') }));
    const verdicts = await Promise.all(Array.from({ length: 50 }, () => g.reserveCheck('acme', US)));
    expect(allowed(verdicts)).toBe(5);
    for (const v of verdicts.filter((v) => !v.allowed)) expectRefused(v, 'failed_checks', 3590, 3600);
    // The lock holds: sends refused too. A check reserved for a right code is released, freeing one check.
    expectRefused(await g.consumeSend('acme', US), 'failed_checks', 3590, 3600);
    await g.releaseCheck('acme', US);
    expect(await g.reserveCheck('acme', US)).toEqual({ allowed: true });
    expectRefused(await g.reserveCheck('acme', US), 'failed_checks', 3590, 3600);
    expect(await g.reserveCheck('acme', CA)).toEqual({ allowed: true });
  });

  test('a release with no check reserved grants nothing: no window opens with a point in hand', async () => {
    const g = guard(guardConfig({ failedChecksPerDestination: limit('2/1h') }));
    await g.releaseCheck('acme', US);
    await g.releaseCheck('acme', US);
    const verdicts = [];
    for (let i = 0; i < 3; i++) verdicts.push(await g.reserveCheck('acme', US));
    expect(allowed(verdicts)).toBe(2);
    expectRefused(verdicts[2], 'failed_checks', 3590, 3600);
  });

  test("a run's note answers its checks for its client only, judged by its destination's failed checks", async () => {
    const g = guard(guardConfig({ failedChecksPerDestination: limit('2/1h') }));
    expect(await g.checkAllowedForRun('phone-acme-1', 'acme')).toBeUndefined();
    await g.noteRun('phone-acme-1', 'acme', US, 600);
    expect(await g.checkAllowedForRun('phone-acme-1', 'acme')).toEqual({ allowed: true });
    // Another client's call, or another run: no note to answer from.
    expect(await g.checkAllowedForRun('phone-acme-1', 'globex')).toBeUndefined();
    expect(await g.checkAllowedForRun('phone-acme-2', 'acme')).toBeUndefined();
    // The destination's failed checks, whichever verification made them, lock the run's checks too.
    await g.recordFailedCheck('acme', '+1 415 555 0100');
    expect(await g.checkAllowedForRun('phone-acme-1', 'acme')).toEqual({ allowed: true });
    await g.recordFailedCheck('globex', US);
    expectRefused((await g.checkAllowedForRun('phone-acme-1', 'acme'))!, 'failed_checks', 3590, 3600);
    await g.noteRun('phone-acme-3', 'acme', CA, 600);
    expect(await g.checkAllowedForRun('phone-acme-3', 'acme')).toEqual({ allowed: true });
    // The note holds no number.
    for (const key of await g.storeKeys()) expect(key).not.toContain('4155550100');
  });

  test("a run's note names its owner, and no other client", async () => {
    const g = guard(guardConfig({}));
    expect(await g.isNotedRun('phone-acme-1', 'acme')).toBe(false);
    await g.noteRun('phone-acme-1', 'acme', US, 1);
    expect(await g.isNotedRun('phone-acme-1', 'acme')).toBe(true);
    expect(await g.isNotedRun('phone-acme-1', 'acm')).toBe(false);
    expect(await g.isNotedRun('phone-acme-1', 'globex')).toBe(false);
    expect(await g.isNotedRun('phone-acme-1', '')).toBe(false);
    expect(await g.isNotedRun('phone-acme-2', 'acme')).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await g.isNotedRun('phone-acme-1', 'acme')).toBe(false);
  });

  test('a run note expires with the window it was given', async () => {
    const g = guard(guardConfig({}));
    await g.noteRun('phone-acme-short', 'acme', US, 1);
    expect(await g.checkAllowedForRun('phone-acme-short', 'acme')).toEqual({ allowed: true });
    await new Promise((r) => setTimeout(r, 1100));
    expect(await g.checkAllowedForRun('phone-acme-short', 'acme')).toBeUndefined();
  });

  test('with the failed-check limit off, a noted run is always allowed a check', async () => {
    const g = guard(guardConfig({ failedChecksPerDestination: null }));
    await g.noteRun('phone-acme-1', 'acme', US, 600);
    expect(await g.checkAllowedForRun('phone-acme-1', 'acme')).toEqual({ allowed: true });
  });

  test('requests completed by our checks: remembered per request, a repeat note harmless, nothing else counted', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('1/10m') }));
    expect(await g.completedByCheck('vonage:req-1')).toBe(false);
    await g.noteCompletedByCheck('vonage:req-1');
    await g.noteCompletedByCheck('vonage:req-1');
    expect(await g.completedByCheck('vonage:req-1')).toBe(true);
    expect(await g.completedByCheck('vonage:req-2')).toBe(false);
    expect(await g.completedByCheck('twilio:req-1')).toBe(false);
    // No limit shares its keys with them.
    expect(await g.consumeSend('acme', US)).toEqual({ allowed: true });
    expect((await g.storeKeys()).filter((k) => k.includes('completed_by_check'))).toHaveLength(1);
  });

  test('starts begun: the first note of a key answers false, every later one true, concurrent ones exactly one false', async () => {
    const g = guard(guardConfig({ sendsPerDestination: limit('1/10m') }));
    expect(await g.startBegun('run-1:0')).toBe(false);
    expect(await g.startBegun('run-1:0')).toBe(true);
    expect(await g.startBegun('run-1:0')).toBe(true);
    expect(await g.startBegun('run-1:1')).toBe(false);
    const racing = await Promise.all(Array.from({ length: 20 }, () => g.startBegun('run-2:0')));
    expect(racing.filter((begun) => !begun)).toHaveLength(1);
    // Forgotten (a refused start), the key begins afresh; no limit shares its keys.
    await g.forgetStart('run-1:0');
    expect(await g.startBegun('run-1:0')).toBe(false);
    expect(await g.consumeSend('acme', US)).toEqual({ allowed: true });
  });

  test('50 concurrent sends by one client with a limit of 5: exactly 5 allowed, no destination counted for the others', async () => {
    const g = guard(
      guardConfig(
        { sendsPerDestination: limit('1/10m'), sendsPerPrefix: null, sendsPerClient: limit('5/1h') },
        { globex: { sendsPerClient: null } },
      ),
    );
    const verdicts = await Promise.all(Array.from({ length: 50 }, (_, n) => g.consumeSend('acme', sequential(n))));
    expect(allowed(verdicts)).toBe(5);
    for (const v of verdicts.filter((v) => !v.allowed)) expect(v).toMatchObject({ scope: 'client' });
    const refused = verdicts.flatMap((v, n) => (v.allowed ? [] : [sequential(n)]));
    for (const d of refused) expect(await g.consumeSend('globex', d)).toEqual({ allowed: true });
  });
}
