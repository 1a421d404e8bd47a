import { Redis } from 'ioredis';
import { COMPLETED_BY_CHECK_SECONDS } from '../../activities/abuse-guard';
import { createAbuseGuard, RateLimiterAbuseGuard } from '../../src/auth/abuse-guard';
import type { GuardConfig } from '../../src/config/limits-config';
import { CA, guardBehaviour, guardConfig, limit, sendTimes, sequential, US } from '../support/guard-behaviour';
import { startRedisServer, type RedisServer } from '../../src/common/redis-server';

/**
 * The abuse guard on Redis, as deployed: a real redis-server with an append-only file. The same behaviour as on the
 * memory store, plus what memory cannot do: replicas share every limit, a replica that (re)starts sees the counts,
 * and so does Redis restarted from its append-only file. A missing redis-server fails this suite with the install
 * command.
 */
let server: RedisServer | undefined;
const open: RateLimiterAbuseGuard[] = [];

beforeAll(async () => {
  server = await startRedisServer({ binary: process.env.REDIS_SERVER_BIN, pathEnv: process.env.PATH });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((g) => g.close()));
});

afterAll(async () => {
  await server?.dispose();
});

/** A replica: a guard with its own Redis connection, closed after the test. */
function replica(config: GuardConfig): RateLimiterAbuseGuard {
  const guard = new RateLimiterAbuseGuard({ ...config, store: { kind: 'redis', url: server!.url } });
  open.push(guard);
  return guard;
}

describe('abuse guard, Redis store', () => {
  guardBehaviour((config) => new RateLimiterAbuseGuard({ ...config, store: { kind: 'redis', url: server!.url } }));
});

describe('abuse guard, Redis store: durable and shared', () => {
  test('two replicas share every limit: destination, day, prefix, client, failed checks, and refunds', async () => {
    const config = guardConfig({
      sendsPerDestination: limit('2/10m'),
      sendsPerPrefix: limit('4/10m'),
      sendsPerClient: limit('6/1h'),
      failedChecksPerDestination: limit('2/1h'),
    });
    const [a, b] = [replica(config), replica(config)];

    expect(await a.consumeSend('acme', US)).toEqual({ allowed: true });
    expect(await b.consumeSend('acme', US)).toEqual({ allowed: true });
    expect(await a.consumeSend('acme', US)).toMatchObject({ allowed: false, scope: 'destination' });
    expect(await b.consumeSend('acme', US)).toMatchObject({ allowed: false, scope: 'destination' });
    await b.refundSend('acme', US);
    expect(await a.consumeSend('acme', US)).toEqual({ allowed: true });

    // The prefix +14155550 now holds 2; two more on either replica exhaust it.
    expect(await b.consumeSend('acme', sequential(1))).toEqual({ allowed: true });
    expect(await a.consumeSend('acme', sequential(2))).toEqual({ allowed: true });
    expect(await b.consumeSend('acme', sequential(3))).toMatchObject({ allowed: false, scope: 'prefix' });

    // The client holds 4 of 6.
    expect(await a.consumeSend('acme', CA)).toEqual({ allowed: true });
    expect(await b.consumeSend('acme', '+33612345678')).toEqual({ allowed: true });
    expect(await a.consumeSend('acme', '+442079460000')).toMatchObject({ allowed: false, scope: 'client' });

    await a.recordFailedCheck('acme', CA);
    expect(await b.checkAllowed('acme', CA)).toEqual({ allowed: true });
    await b.recordFailedCheck('acme', CA);
    expect(await a.checkAllowed('acme', CA)).toMatchObject({ allowed: false, scope: 'failed_checks' });
    expect(await b.peekSend('globex', CA)).toMatchObject({ allowed: false, scope: 'failed_checks' });

    const dayConfig = guardConfig({ sendsPerDestination: null, sendsPerDestinationDay: limit('2/24h') });
    const [day, day2] = [replica(dayConfig), replica(dayConfig)];
    expect(await day.consumeSend('acme', US)).toEqual({ allowed: true });
    expect(await day2.consumeSend('acme', US)).toEqual({ allowed: true });
    expect(await day.consumeSend('acme', US)).toMatchObject({ allowed: false, scope: 'destination_day' });
  });

  test("a request one replica's check completed is known to the other, for an hour", async () => {
    const config = guardConfig({});
    const [worker, api] = [replica(config), replica(config)];
    await worker.noteCompletedByCheck('vonage:req-shared');
    expect(await api.completedByCheck('vonage:req-shared')).toBe(true);
    const redis = new Redis(server!.url);
    try {
      const ttl = await redis.ttl(`${config.keyPrefix}:completed_by_check:vonage:req-shared`);
      expect(ttl).toBeGreaterThan(COMPLETED_BY_CHECK_SECONDS - 60);
      expect(ttl).toBeLessThanOrEqual(COMPLETED_BY_CHECK_SECONDS);
    } finally {
      redis.disconnect();
    }
  });

  test('a replica started after another consumed sees its counts (restart of a replica)', async () => {
    const config = guardConfig({ sendsPerDestination: limit('3/10m'), failedChecksPerDestination: limit('1/1h') });
    const first = replica(config);
    expect((await sendTimes(first, 'acme', US, 3)).every((v) => v.allowed)).toBe(true);
    await first.recordFailedCheck('acme', CA);
    await first.close();

    const restarted = replica(config);
    expect(await restarted.consumeSend('acme', US)).toMatchObject({ allowed: false, scope: 'destination' });
    expect(await restarted.checkAllowed('acme', CA)).toMatchObject({ allowed: false, scope: 'failed_checks' });
  });

  test('Redis restarted from its append-only file keeps the counts and their windows', async () => {
    const config = guardConfig({ sendsPerDestination: limit('2/10m'), sendsPerClient: limit('3/1h') });
    const before = replica(config);
    await sendTimes(before, 'acme', US, 2);
    const refused = await before.consumeSend('acme', US);
    expect(refused).toMatchObject({ allowed: false, scope: 'destination' });
    await before.close();

    await server!.restart();

    const after = replica(config);
    const again = await after.consumeSend('acme', US);
    expect(again).toMatchObject({ allowed: false, scope: 'destination' });
    const seconds = (again as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(seconds).toBeLessThanOrEqual((refused as { retryAfterSeconds: number }).retryAfterSeconds);
    expect(seconds).toBeGreaterThan(580);
    // The client scope survived too: 2 of 3 used.
    expect(await after.consumeSend('acme', CA)).toEqual({ allowed: true });
    expect(await after.consumeSend('acme', '+33612345678')).toMatchObject({ allowed: false, scope: 'client' });
  });

  test('50 concurrent sends over two replicas to one destination with a limit of 5: exactly 5 allowed', async () => {
    const config = guardConfig({ sendsPerDestination: limit('5/10m'), sendsPerClient: limit('7/1h') });
    const [a, b] = [replica(config), replica(config)];
    const verdicts = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).consumeSend('acme', US)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    // Every refused send was rolled back: the client scope holds 5 of 7.
    expect((await sendTimes(a, 'acme', CA, 3)).filter((v) => v.allowed)).toHaveLength(2);
  });

  test('concurrent sends are judged as a serial order would: a send refused by a later limit holds no point meanwhile', async () => {
    // acme may send once, and each destination takes one send. Whatever the order, every destination gets exactly one:
    // acme's one, and globex's everywhere else. A send of acme's counted on its destination and then refused by the
    // client limit must not refuse globex's send to that destination in between.
    const config = guardConfig(
      {
        sendsPerDestination: limit('1/10m'),
        sendsPerDestinationDay: null,
        sendsPerPrefix: null,
        sendsPerClient: limit('1/1h'),
      },
      { globex: { sendsPerClient: null } },
    );
    const [a, b] = [replica(config), replica(config)];
    const destinations = Array.from({ length: 20 }, (_, n) => sequential(n));
    const verdicts = await Promise.all(
      destinations.map((d) => Promise.all([a.consumeSend('acme', d), b.consumeSend('globex', d)])),
    );
    for (const pair of verdicts) expect(pair.filter((v) => v.allowed)).toHaveLength(1);
    expect(verdicts.filter(([acme]) => acme.allowed).length).toBeLessThanOrEqual(1);
  });

  test('a Redis client passed in is used and left open by close()', async () => {
    const redis = new Redis(server!.url);
    try {
      const config = guardConfig({ sendsPerDestination: limit('1/10m') });
      const guard = createAbuseGuard(config, { redis });
      expect(await guard.consumeSend('acme', US)).toEqual({ allowed: true });
      await guard.close();
      expect(await redis.ping()).toBe('PONG');
      expect(await redis.keys(`${config.keyPrefix}:destination:600s:*`)).toHaveLength(1);
      expect(await replica(config).consumeSend('acme', US)).toMatchObject({ allowed: false, scope: 'destination' });
    } finally {
      redis.disconnect();
    }
  });
});
