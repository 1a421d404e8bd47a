import { createAbuseGuard, RateLimiterAbuseGuard } from '../../src/auth/abuse-guard';
import { guardBehaviour, guardConfig } from '../support/guard-behaviour';

/** The abuse guard on the memory store (the single-process embedded mode): every scope, refusal and override. */
describe('abuse guard, memory store', () => {
  guardBehaviour((config) => new RateLimiterAbuseGuard(config));
});

test('createAbuseGuard builds the memory store from a memory config', async () => {
  const guard = createAbuseGuard(guardConfig());
  expect(guard).toBeInstanceOf(RateLimiterAbuseGuard);
  expect(await guard.consumeSend('acme', '+14155550100')).toEqual({ allowed: true });
  await guard.close();
});

test('a client id and a destination are required (a missing one is a bug, not a free pass)', async () => {
  const guard = createAbuseGuard(guardConfig());
  await expect(guard.consumeSend('', '+14155550100')).rejects.toThrow(/client id/);
  await expect(guard.consumeSend('acme', ' ')).rejects.toThrow(/destination/);
  await guard.close();
});
