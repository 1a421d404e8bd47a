/**
 * The contract of `rateLimit`: a durable sliding-window limiter for one key (the inbound SMS gateway's limits per
 * recipient and per client IP). Deterministic and Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import { lazy, update, type WorkflowContract } from './descriptor';

const schemas = lazy('rate-limit', () => {
  const input = z.strictObject({
    /** Carried over by continue-as-new: hit times (epoch ms) still inside the window. */
    hits: z.array(z.number()).max(100_000).optional(),
    windowSeconds: z.number().int().min(1).optional(),
  });
  const acquireInput = z.strictObject({
    limit: z.number().int().min(1).max(100_000),
    windowSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400),
  });
  const acquireResult = z.object({
    allowed: z.boolean(),
    /** Hits left in the window after this one. */
    remaining: z.number().int(),
    /** When refused: seconds until the oldest hit leaves the window. */
    retryAfterSeconds: z.number().int().optional(),
  });
  return { input, result: z.object({ hits: z.number().int() }), acquireInput, acquireResult };
});

type Schemas = ReturnType<typeof schemas>;
export type RateLimitInput = z.infer<Schemas['input']>;
export type AcquireInput = z.infer<Schemas['acquireInput']>;
export type AcquireResult = z.infer<Schemas['acquireResult']>;

/** The rate limiter's contract (see WorkflowContract). */
export const rateLimitContract = {
  type: 'rateLimit',
  summary:
    'A durable sliding-window rate limiter for one key (the inbound SMS gateway: per recipient, per client IP). Ends when idle.',
  idPrefix: 'ratelimit',
  idPattern: /^ratelimit-[a-z0-9_]{1,32}-[A-Za-z0-9_-]{1,64}$/,
  idScheme: '`ratelimit-<scope>-<keyed hash of the key>` (no PII); `acquire` with update-with-start, USE_EXISTING',
  /** Workflow ID of a rate limiter: `ratelimit-<scope>-<keyed hash of the key>` (no PII in it). */
  id: (scope: string, hash: string): string => `ratelimit-${scope}-${hash}`,
  schemas,
  messages: {
    /** Counts one hit against a sliding window; refused (not counted) when `limit` hits are already in it. */
    acquire: update<AcquireResult, [AcquireInput]>('acquire', {
      summary: 'Counts one hit if fewer than `limit` are in the window; else refused with `retryAfterSeconds`.',
      input: () => schemas().acquireInput,
      result: () => schemas().acquireResult,
    }),
  },
  defaults: {},
} satisfies WorkflowContract;
