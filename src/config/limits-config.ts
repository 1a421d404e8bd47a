import { getCountries } from 'libphonenumber-js/max';
import { z } from 'zod';

/** At most `points` events per fixed window of `durationSeconds`, counted from the window's first event. */
export interface GuardLimit {
  points: number;
  durationSeconds: number;
}

/** The abuse guard's limits; `null` turns a limit off. Per-client overrides are partial copies of this. */
export interface AbuseLimits {
  /** Sends to one destination (LIMIT_SENDS_PER_DESTINATION, default 5/10m). */
  sendsPerDestination: GuardLimit | null;
  /** Sends to one destination over a day (LIMIT_SENDS_PER_DESTINATION_DAY, default 10/24h). */
  sendsPerDestinationDay: GuardLimit | null;
  /** Sends to one number prefix or e-mail domain (LIMIT_SENDS_PER_PREFIX, default 50/10m): SMS pumping spreads. */
  sendsPerPrefix: GuardLimit | null;
  /** Sends by one API client (LIMIT_SENDS_PER_CLIENT, default 1000/1h). */
  sendsPerClient: GuardLimit | null;
  /** Wrong codes checked against one destination across verifications (LIMIT_FAILED_CHECKS_PER_DESTINATION, 15/1h). */
  failedChecksPerDestination: GuardLimit | null;
  /** A number's prefix is its E.164 form without this many last digits (LIMIT_PREFIX_DROP_DIGITS, default 3). */
  prefixDropDigits: number;
  /** ISO 3166 alpha-2 codes phone destinations must belong to (ALLOWED_COUNTRIES); undefined = every country. */
  allowedCountries?: string[];
}

/** The durable abuse guard's configuration (src/auth/abuse-guard.ts). */
export interface GuardConfig {
  defaults: AbuseLimits;
  /** clientId → the limits that client overrides (from the clients file); the rest come from `defaults`. */
  perClient: Record<string, Partial<AbuseLimits>>;
  /** Redis (REDIS_URL), shared by every replica and durable; memory only for the single-process embedded mode. */
  store: { kind: 'memory' } | { kind: 'redis'; url: string };
  /** Key of the HMAC that replaces destinations and prefixes in store keys: the store never holds PII. */
  hashSecret: Buffer;
  /** Prefix of every store key (LIMIT_KEY_PREFIX, default `verifyflow:guard`). */
  keyPrefix: string;
}

export const DEFAULT_ABUSE_LIMITS: AbuseLimits = {
  sendsPerDestination: { points: 5, durationSeconds: 600 },
  sendsPerDestinationDay: { points: 10, durationSeconds: 86_400 },
  sendsPerPrefix: { points: 50, durationSeconds: 600 },
  sendsPerClient: { points: 1000, durationSeconds: 3600 },
  failedChecksPerDestination: { points: 15, durationSeconds: 3600 },
  prefixDropDigits: 3,
};

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const MAX_POINTS = 1_000_000_000;
const MAX_DURATION_SECONDS = 365 * 86_400;
const COUNTRIES = new Set<string>(getCountries());
const MIN_HASH_SECRET_BYTES = 32;

/**
 * Parses a limit: `N/<duration>` with duration `<int>s|m|h|d` (`5/10m`, `10/24h`, `600/1h`), or `off` (→ null). Throws
 * an Error naming `name`; exported so the clients file accepts exactly the same strings as the environment.
 */
export function parseLimit(name: string, value: string): GuardLimit | null {
  const v = value.trim();
  if (v === 'off') return null;
  const m = /^(\d+)\/(\d+)([smhd])$/.exec(v);
  if (!m) {
    throw new Error(`${name} must be N/<duration> (duration: <int>s, m, h or d, e.g. 5/10m) or off, not "${clip(v)}"`);
  }
  const points = Number(m[1]);
  const durationSeconds = Number(m[2]) * UNIT_SECONDS[m[3] as keyof typeof UNIT_SECONDS];
  if (points < 1 || points > MAX_POINTS) throw new Error(`${name} must allow between 1 and ${MAX_POINTS} events`);
  if (durationSeconds < 1 || durationSeconds > MAX_DURATION_SECONDS) {
    throw new Error(`${name} must have a duration between 1s and 365d`);
  }
  return { points, durationSeconds };
}

/**
 * Parses a comma-separated list of ISO 3166 alpha-2 codes (`US,CA,FR`; case-insensitive) into upper-case codes. Throws
 * an Error naming `name` on an empty list or an unknown code; exported for the clients file too.
 */
export function parseCountries(name: string, value: string): string[] {
  const codes = value
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  if (codes.length === 0) throw new Error(`${name} must list ISO 3166 alpha-2 country codes (unset it to allow all)`);
  const unknown = codes.filter((c) => !COUNTRIES.has(c));
  if (unknown.length > 0) {
    throw new Error(`${name}: ${unknown.map(clip).join(', ')} is not an ISO 3166 alpha-2 country code (e.g. US, GB)`);
  }
  return [...new Set(codes)];
}

const limit = (name: string, def: string) =>
  z
    .string()
    .default(def)
    .transform((v, ctx) => {
      try {
        return parseLimit(name, v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

const envSchema = z.object({
  LIMIT_SENDS_PER_DESTINATION: limit('LIMIT_SENDS_PER_DESTINATION', '5/10m'),
  LIMIT_SENDS_PER_DESTINATION_DAY: limit('LIMIT_SENDS_PER_DESTINATION_DAY', '10/24h'),
  LIMIT_SENDS_PER_PREFIX: limit('LIMIT_SENDS_PER_PREFIX', '50/10m'),
  LIMIT_SENDS_PER_CLIENT: limit('LIMIT_SENDS_PER_CLIENT', '1000/1h'),
  LIMIT_FAILED_CHECKS_PER_DESTINATION: limit('LIMIT_FAILED_CHECKS_PER_DESTINATION', '15/1h'),
  LIMIT_PREFIX_DROP_DIGITS: z
    .string()
    .regex(/^\s*\d+\s*$/, 'LIMIT_PREFIX_DROP_DIGITS must be a whole number of digits (1-8)')
    .default('3')
    .transform(Number)
    .refine((n) => n >= 1 && n <= 8, 'LIMIT_PREFIX_DROP_DIGITS must be between 1 and 8'),
  LIMIT_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:._-]{1,64}$/, 'LIMIT_KEY_PREFIX must be 1-64 characters of A-Z a-z 0-9 : . _ -')
    .default('verifyflow:guard'),
  ALLOWED_COUNTRIES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      try {
        return parseCountries('ALLOWED_COUNTRIES', v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  // The URL may carry a password: messages never echo it.
  REDIS_URL: z
    .string()
    .refine((v) => /^rediss?:$/.test(safeProtocol(v)), 'REDIS_URL must be a redis:// or rediss:// URL')
    .optional(),
});

/**
 * Reads the abuse guard's variables (LIMIT_*, ALLOWED_COUNTRIES, REDIS_URL) into a GuardConfig with no per-client
 * overrides (the clients file adds those). The store is Redis when REDIS_URL is set; without it only a single process
 * (the embedded `npm run dev`) may keep limits in memory, since separate API and worker replicas must share them and
 * they must survive restarts. Throws an Error naming the variable; `loadConfig` turns it into a ConfigError.
 */
export function loadLimitsConfig(
  env: Record<string, string | undefined>,
  ctx: { singleProcess: boolean; hashSecret: Buffer },
): GuardConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => i.message).join('; '));
  const e = parsed.data;
  if (!e.REDIS_URL && !ctx.singleProcess) {
    throw new Error(
      'REDIS_URL is required unless the API and the worker run in one process: abuse limits must be shared by every ' +
        'replica and survive restarts, which memory cannot do',
    );
  }
  if (ctx.hashSecret.length < MIN_HASH_SECRET_BYTES) {
    throw new Error(`the abuse guard's hash secret must be at least ${MIN_HASH_SECRET_BYTES} bytes`);
  }
  return {
    defaults: {
      sendsPerDestination: e.LIMIT_SENDS_PER_DESTINATION,
      sendsPerDestinationDay: e.LIMIT_SENDS_PER_DESTINATION_DAY,
      sendsPerPrefix: e.LIMIT_SENDS_PER_PREFIX,
      sendsPerClient: e.LIMIT_SENDS_PER_CLIENT,
      failedChecksPerDestination: e.LIMIT_FAILED_CHECKS_PER_DESTINATION,
      prefixDropDigits: e.LIMIT_PREFIX_DROP_DIGITS,
      ...(e.ALLOWED_COUNTRIES ? { allowedCountries: e.ALLOWED_COUNTRIES } : {}),
    },
    perClient: {},
    store: e.REDIS_URL ? { kind: 'redis', url: e.REDIS_URL } : { kind: 'memory' },
    hashSecret: ctx.hashSecret,
    keyPrefix: e.LIMIT_KEY_PREFIX,
  };
}

function safeProtocol(url: string): string {
  try {
    return new URL(url).protocol;
  } catch {
    return '';
  }
}

/** A bad value quoted in a message, bounded (limits and country codes are not secrets). */
function clip(value: string): string {
  return value.length > 24 ? `${value.slice(0, 24)}…` : value;
}
