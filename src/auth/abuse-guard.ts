import { createHmac } from 'node:crypto';
import { Redis } from 'ioredis';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import {
  COMPLETED_BY_CHECK_SECONDS,
  START_BEGUN_SECONDS,
  type AbuseGuard,
  type GuardRefusal,
  type GuardScope,
  type GuardVerdict,
} from '../../activities/abuse-guard';
import type { AbuseLimits, GuardConfig, GuardLimit } from '../config/limits-config';

type LimitField = Exclude<keyof AbuseLimits, 'prefixDropDigits' | 'allowedCountries'>;

/** The limit each scope reads, in the order scopes are reported and consumed (narrowest first). */
const SEND_SCOPES = [
  ['destination', 'sendsPerDestination'],
  ['destination_day', 'sendsPerDestinationDay'],
  ['prefix', 'sendsPerPrefix'],
  ['client', 'sendsPerClient'],
] as const satisfies readonly (readonly [GuardScope, LimitField])[];

/** A refusal by a counted limit (every scope but country). */
type LimitRefusal = Extract<GuardRefusal, { retryAfterSeconds: number }>;

const ALLOWED: GuardVerdict = { allowed: true };
const COUNTRY_REFUSED: GuardRefusal = { allowed: false, scope: 'country', reason: 'destination_not_allowed' };
/** The store's name for the requests our checks completed (`completedRequests`); no limiter id has this form. */
const COMPLETED_BY_CHECK = 'completed_by_check';
/** The store's name for the provider starts that began (`startBegun`); no limiter id has this form either. */
const STARTS_BEGUN = 'starts_begun';
/** The store's name for the runs the REST API started (`noteRun`): `<keyPrefix>:runs:<run id>`. */
const RUNS = 'runs';
/** Memory store: past this many run notes, a new one first drops the expired ones. */
const MEMORY_RUN_NOTES = 10_000;
/** HMAC output kept in store keys: 128 bits, plenty to tell destinations apart. */
const HASH_HEX_CHARS = 32;

/**
 * On Redis, one point counted on every counter or on none, in one atomic script (one round trip). KEYS: the counters
 * that are only read (the failed-check lock when a send is counted), then those that count. ARGV[1]: how many are only
 * read; then per key its limit and its window in seconds. A counter whose window is open and holds its limit refuses:
 * the answer is {index, ms before its window ends} of the refusing counter that frees last (a send waits for all),
 * else {0, 0}, and each counting key got its point as rate-limiter-flexible counts one (a key per window, set with
 * its expiry when the window opens), so its `get` and `reward` read and change the same keys.
 */
const CONSUME_ALL = `
local readOnly = tonumber(ARGV[1])
local worst, worstTtl = 0, 0
for i = 1, #KEYS do
  local held = tonumber(redis.call('get', KEYS[i]) or '0')
  if held >= tonumber(ARGV[2 * i]) then
    local ttl = redis.call('pttl', KEYS[i])
    if ttl > worstTtl then worst, worstTtl = i, ttl end
  end
end
if worst > 0 then return {worst, worstTtl} end
for i = readOnly + 1, #KEYS do
  redis.call('set', KEYS[i], 0, 'EX', ARGV[2 * i + 1], 'NX')
  redis.call('incrby', KEYS[i], 1)
  if redis.call('pttl', KEYS[i]) == -1 then redis.call('expire', KEYS[i], ARGV[2 * i + 1]) end
end
return {0, 0}`;

/** On Redis, one point given back to every counter whose window is still open (one round trip; none opens a window). */
const GIVE_BACK_LIVE = `
for i = 1, #KEYS do
  if redis.call('pttl', KEYS[i]) > 0 then redis.call('decrby', KEYS[i], 1) end
end
return 0`;

/**
 * On Redis, a check of a noted run (`noteRun`) in one round trip. KEYS[1]: the run's note (`<client>\n<destination
 * HMAC>`). ARGV: the caller's client id; the failed-check counter's key without its subject ('' when that limit is
 * off); its limit. Answers {-1, 0} when there is no note of that client's, {1, ms before the window ends} when the
 * destination is locked, else {0, 0}. The counter's key is made from the note, so the store must be one Redis, as
 * for every script here.
 */
const RUN_CHECK_ALLOWED = `
local note = redis.call('get', KEYS[1])
if not note then return {-1, 0} end
local cut = string.find(note, '\\n', 1, true)
if not cut or string.sub(note, 1, cut - 1) ~= ARGV[1] then return {-1, 0} end
if ARGV[2] == '' then return {0, 0} end
local key = ARGV[2] .. string.sub(note, cut + 1)
if tonumber(redis.call('get', key) or '0') >= tonumber(ARGV[3]) then
  local ttl = redis.call('pttl', key)
  if ttl > 0 then return {1, ttl} end
end
return {0, 0}`;

/** The guard's scripts as commands of its Redis client (ioredis runs them by SHA, loading them once). */
interface GuardScripts {
  verifyflowGuardConsumeAll(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
  verifyflowGuardGiveBackLive(numKeys: number, ...keys: string[]): Promise<number>;
  verifyflowGuardRunCheckAllowed(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
}

/** One counter a call reads or changes: a limiter (scope + limit setting) and the key of the subject it counts. */
interface Counter {
  scope: GuardScope;
  limiter: RateLimiterAbstract;
  key: string;
  points: number;
  /** The window's length. */
  seconds: number;
}

/** A destination as the guard counts it: HMACs only, plus what the country rule needs. */
interface Subject {
  destinationHash: string;
  prefixHash: string;
  /** ISO 3166 alpha-2 of a phone number; undefined for e-mail and for numbers of no single country. */
  country?: string;
  email: boolean;
}

/**
 * createAbuseGuard's implementation: every limit is a rate-limiter-flexible fixed window (RateLimiterRedis, or
 * RateLimiterMemory in the single-process embedded mode).
 *
 * There is one limiter per scope and limit setting; per-client overrides get (cached) limiters of their own. Limiters
 * of one scope and window length share their counters — the store key is `<keyPrefix>:<scope>:<window>s:<subject>` —
 * so a destination's sends count once, whatever client sent them, and each client's own limit is compared with that
 * count. Destinations and prefixes appear in keys only as HMAC-SHA256 under `hashSecret`; client ids as they are.
 *
 * On Redis a send or a check is counted on all its counters or on none in one atomic script, so concurrent calls
 * count as some serial order would. On the memory store a send may be refused under concurrent calls that a serial
 * order would have allowed (a racing send's counts are rolled back a moment later), never the other way: no scope ever
 * allows more than its limit. Store errors are thrown (fail closed): the API answers 503 and activities are retried.
 */
export class RateLimiterAbuseGuard implements AbuseGuard {
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private readonly clientLimits = new Map<string, AbuseLimits>();
  private readonly redis?: Redis & GuardScripts;
  private readonly ownsRedis: boolean;
  /** Memory mode: the limiter whose storage every other limiter shares (and whose dump lists every key). */
  private readonly memoryRoot?: RateLimiterMemory;
  /** Memory mode: the run notes (`noteRun`) by store key. */
  private readonly memoryRuns = new Map<string, { note: string; untilMs: number }>();

  constructor(
    private readonly config: GuardConfig,
    options: { redis?: Redis } = {},
  ) {
    if (config.hashSecret.length === 0) throw new Error('abuse guard: hashSecret is empty');
    for (const [client, overrides] of Object.entries(config.perClient)) {
      this.clientLimits.set(client, withOverrides(config.defaults, overrides));
    }
    if (options.redis) {
      this.redis = withScripts(options.redis);
      this.ownsRedis = false;
    } else if (config.store.kind === 'redis') {
      // Few retries per command: a request waiting on an unreachable Redis should fail (503, activity retry) fast.
      this.redis = withScripts(new Redis(config.store.url, { maxRetriesPerRequest: 2, connectTimeout: 5000 }));
      // Each command rejects with the connection error itself; the reconnect loop's events would only repeat it.
      this.redis.on('error', () => undefined);
      this.ownsRedis = true;
    } else {
      this.ownsRedis = false;
      this.memoryRoot = new RateLimiterMemory({ points: 1, duration: 1, keyPrefix: '' });
    }
  }

  async consumeSend(client: string, destination: string): Promise<GuardVerdict> {
    const { limits, subject } = this.resolve(client, destination);
    if (!countryAllowed(subject, limits)) return COUNTRY_REFUSED;
    const locks = this.lockCounters(subject.destinationHash, limits);
    const sends = this.sendCounters(client, subject, limits);
    if (this.redis) return (await this.consumeAll(locks, sends)) ?? ALLOWED;
    const refusal = await this.exhausted([...locks, ...sends]);
    if (refusal) return refusal;

    const consumed: Counter[] = [];
    for (const c of sends) {
      try {
        await c.limiter.consume(c.key);
        consumed.push(c);
      } catch (err) {
        // A rejected consume still counted its point: give it back with the others.
        if (err instanceof RateLimiterRes) {
          await giveBack([...consumed, c]);
          return { allowed: false, scope: c.scope, retryAfterSeconds: retryAfterSeconds(err.msBeforeNext) };
        }
        await giveBack(consumed);
        throw err;
      }
    }
    return ALLOWED;
  }

  async refundSend(client: string, destination: string): Promise<void> {
    const { limits, subject } = this.resolve(client, destination);
    const sends = this.sendCounters(client, subject, limits);
    // Only a live window is given back to: a reward in a fresh window would grant a send beyond the limit there.
    const current = await this.read(sends);
    await Promise.all(sends.filter((_, i) => live(current[i])).map((c) => c.limiter.reward(c.key)));
  }

  async peekSend(client: string, destination: string): Promise<GuardVerdict> {
    const { limits, subject } = this.resolve(client, destination);
    if (!countryAllowed(subject, limits)) return COUNTRY_REFUSED;
    const counters = [
      ...this.lockCounters(subject.destinationHash, limits),
      ...this.sendCounters(client, subject, limits),
    ];
    return (await this.exhausted(counters)) ?? ALLOWED;
  }

  async checkAllowed(client: string, destination: string): Promise<GuardVerdict> {
    const { limits, subject } = this.resolve(client, destination);
    return (await this.exhausted(this.lockCounters(subject.destinationHash, limits))) ?? ALLOWED;
  }

  async noteRun(runId: string, client: string, destination: string, seconds: number): Promise<void> {
    const { subject } = this.resolve(client, destination);
    const key = this.runKey(runId);
    const note = `${client}\n${subject.destinationHash}`;
    if (this.redis) {
      await this.redis.set(key, note, 'EX', seconds);
      return;
    }
    const now = Date.now();
    if (this.memoryRuns.size >= MEMORY_RUN_NOTES) {
      for (const [k, v] of this.memoryRuns) if (v.untilMs <= now) this.memoryRuns.delete(k);
    }
    this.memoryRuns.set(key, { note, untilMs: now + seconds * 1000 });
  }

  async checkAllowedForRun(runId: string, client: string): Promise<GuardVerdict | undefined> {
    const limits = this.limitsOf(client);
    const key = this.runKey(runId);
    if (this.redis) {
      // The lock's key without its destination: the script appends the HMAC the note holds.
      const [lock] = this.lockCounters('', limits);
      const [answer, ms] = await this.redis.verifyflowGuardRunCheckAllowed(
        1,
        key,
        client,
        lock ? lock.limiter.getKey('') : '',
        lock?.points ?? 0,
      );
      if (answer < 0) return undefined;
      if (answer === 0) return ALLOWED;
      return { allowed: false, scope: 'failed_checks', retryAfterSeconds: retryAfterSeconds(Number(ms)) };
    }
    const note = parseRunNote(this.memoryRunNote(key));
    if (note?.owner !== client) return undefined;
    return (await this.exhausted(this.lockCounters(note.destinationHash, limits))) ?? ALLOWED;
  }

  async isNotedRun(runId: string, client: string): Promise<boolean> {
    if (!client) return false;
    const key = this.runKey(runId);
    const note = this.redis ? await this.redis.get(key) : this.memoryRunNote(key);
    return parseRunNote(note)?.owner === client;
  }

  async recordFailedCheck(client: string, destination: string): Promise<void> {
    const { limits, subject } = this.resolve(client, destination);
    // penalty counts without refusing: failures past the limit keep the lock, they never extend its window.
    await Promise.all(this.lockCounters(subject.destinationHash, limits).map((c) => c.limiter.penalty(c.key)));
  }

  async reserveCheck(client: string, destination: string): Promise<GuardVerdict> {
    const { limits, subject } = this.resolve(client, destination);
    const locks = this.lockCounters(subject.destinationHash, limits);
    if (this.redis) return (await this.consumeAll([], locks)) ?? ALLOWED;
    for (const c of locks) {
      try {
        await c.limiter.consume(c.key);
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        // A rejected consume still counted its point: give it back (a refused check is no failed check).
        await giveBack([c]);
        return { allowed: false, scope: c.scope, retryAfterSeconds: retryAfterSeconds(err.msBeforeNext) };
      }
    }
    return ALLOWED;
  }

  async releaseCheck(client: string, destination: string): Promise<void> {
    const { limits, subject } = this.resolve(client, destination);
    const counters = this.lockCounters(subject.destinationHash, limits);
    if (this.redis) {
      if (counters.length > 0) {
        await this.redis.verifyflowGuardGiveBackLive(counters.length, ...counters.map((c) => c.limiter.getKey(c.key)));
      }
      return;
    }
    for (const c of counters) {
      if (live(await c.limiter.get(c.key))) await c.limiter.reward(c.key);
    }
  }

  async noteCompletedByCheck(ref: string): Promise<void> {
    const notes = this.completedRequests();
    // On Redis one SET with its expiry (rate-limiter-flexible's `set` is a transaction that also reads the expiry back).
    if (this.redis) await this.redis.set(notes.getKey(ref), 1, 'EX', COMPLETED_BY_CHECK_SECONDS);
    else await notes.set(ref, 1, COMPLETED_BY_CHECK_SECONDS);
  }

  async completedByCheck(ref: string): Promise<boolean> {
    const notes = this.completedRequests();
    // On Redis the expiry alone answers (-2: no note; a note always has one): one command instead of a transaction.
    if (this.redis) return (await this.redis.pttl(notes.getKey(ref))) > 0;
    return live(await notes.get(ref));
  }

  async startBegun(key: string): Promise<boolean> {
    // One point per key and window: the first consume takes it (atomic on Redis), every later one is refused.
    try {
      await this.startsBegun().consume(key);
      return false;
    } catch (err) {
      if (err instanceof RateLimiterRes) return true;
      throw err;
    }
  }

  async forgetStart(key: string): Promise<void> {
    await this.startsBegun().delete(key);
  }

  async close(): Promise<void> {
    if (this.redis && this.ownsRedis) {
      await this.redis.quit().catch(() => this.redis?.disconnect());
    }
  }

  /** Every key the guard holds in its store (for tests and operators: they must never contain a destination). */
  async storeKeys(): Promise<string[]> {
    if (this.memoryRoot) return this.memoryRoot.dump().storage.map((r) => String(r.key));
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis!.scan(cursor, 'MATCH', `${this.config.keyPrefix}:*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }

  private resolve(client: string, destination: string): { limits: AbuseLimits; subject: Subject } {
    const limits = this.limitsOf(client);
    if (!destination?.trim()) throw new Error('abuse guard: a destination is required');
    return { limits, subject: this.subject(destination, limits.prefixDropDigits) };
  }

  private limitsOf(client: string): AbuseLimits {
    if (!client) throw new Error('abuse guard: a client id is required');
    return this.clientLimits.get(client) ?? this.config.defaults;
  }

  /** E.164 numbers (any spacing libphonenumber accepts) or e-mail addresses (trimmed, lower-cased; prefix = domain). */
  private subject(destination: string, prefixDropDigits: number): Subject {
    const d = destination.trim();
    if (d.includes('@')) {
      const email = d.toLowerCase();
      const domain = email.slice(email.lastIndexOf('@') + 1);
      return { destinationHash: this.hash('destination', email), prefixHash: this.hash('prefix', domain), email: true };
    }
    const phone = parsePhoneNumberFromString(d);
    const e164 = phone?.number ?? d.replace(/[\s().-]/g, '');
    const cut = e164.length - prefixDropDigits;
    return {
      destinationHash: this.hash('destination', e164),
      prefixHash: this.hash('prefix', cut >= 2 ? e164.slice(0, cut) : e164),
      country: phone?.country,
      email: false,
    };
  }

  private hash(kind: 'destination' | 'prefix', value: string): string {
    return createHmac('sha256', this.config.hashSecret)
      .update(`${kind}:${value}`)
      .digest('hex')
      .slice(0, HASH_HEX_CHARS);
  }

  private sendCounters(client: string, subject: Subject, limits: AbuseLimits): Counter[] {
    const keys: Record<(typeof SEND_SCOPES)[number][0], string> = {
      destination: subject.destinationHash,
      destination_day: subject.destinationHash,
      prefix: subject.prefixHash,
      client,
    };
    return SEND_SCOPES.flatMap(([scope, field]) => this.counter(scope, limits[field], keys[scope]));
  }

  /** The failed-check lock of one destination (its HMAC). */
  private lockCounters(destinationHash: string, limits: AbuseLimits): Counter[] {
    return this.counter('failed_checks', limits.failedChecksPerDestination, destinationHash);
  }

  private counter(scope: GuardScope, limit: GuardLimit | null, key: string): Counter[] {
    return limit
      ? [{ scope, limiter: this.limiter(scope, limit), key, points: limit.points, seconds: limit.durationSeconds }]
      : [];
  }

  private limiter(scope: GuardScope, limit: GuardLimit): RateLimiterAbstract {
    const id = `${scope}:${limit.points}/${limit.durationSeconds}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const options = {
        keyPrefix: `${this.config.keyPrefix}:${scope}:${limit.durationSeconds}s`,
        points: limit.points,
        duration: limit.durationSeconds,
      };
      limiter = this.build(options);
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /**
   * The requests our checks completed, kept in the guard's store as a set whose entries expire: one key per request
   * (`<keyPrefix>:completed_by_check:<provider>:<id>`; a provider's request id, never a destination), its window the
   * time it is remembered.
   */
  private completedRequests(): RateLimiterAbstract {
    return this.note(COMPLETED_BY_CHECK, 1);
  }

  /** Where the note of run `runId` lives (`noteRun`); a run ID is no destination. */
  private runKey(runId: string): string {
    return `${this.config.keyPrefix}:${RUNS}:${runId}`;
  }

  /** Memory store: the run note under `key`, unless it expired. */
  private memoryRunNote(key: string): string | undefined {
    const entry = this.memoryRuns.get(key);
    return entry && entry.untilMs > Date.now() ? entry.note : undefined;
  }

  /** The provider starts that began (`startBegun`): one point per start key for `START_BEGUN_SECONDS`. */
  private startsBegun(): RateLimiterAbstract {
    return this.note(STARTS_BEGUN, START_BEGUN_SECONDS);
  }

  /** A store of notes of one point per key (`name`: its place in the store; `seconds`: the window of a consume). */
  private note(name: string, seconds: number): RateLimiterAbstract {
    let limiter = this.limiters.get(name);
    if (!limiter) {
      limiter = this.build({ keyPrefix: `${this.config.keyPrefix}:${name}`, points: 1, duration: seconds });
      this.limiters.set(name, limiter);
    }
    return limiter;
  }

  /** A limiter over the guard's store: Redis, or the memory storage every limiter of this guard shares. */
  private build(options: { keyPrefix: string; points: number; duration: number }): RateLimiterAbstract {
    return this.redis
      ? new RateLimiterRedis({ ...options, storeClient: this.redis })
      : shareStorage(new RateLimiterMemory(options), this.memoryRoot!);
  }

  /**
   * On Redis: one point counted on each of `counting`, or none when any counter — `readOnly` ones included — holds its
   * limit; then the refusal of the one that frees last. One atomic script, so concurrent calls count exactly as some
   * serial order would: nothing is counted and given back again.
   */
  private async consumeAll(readOnly: Counter[], counting: Counter[]): Promise<LimitRefusal | undefined> {
    const counters = [...readOnly, ...counting];
    if (counters.length === 0) return undefined;
    const [index, ms] = await this.redis!.verifyflowGuardConsumeAll(
      counters.length,
      ...counters.map((c) => c.limiter.getKey(c.key)),
      readOnly.length,
      ...counters.flatMap((c) => [c.points, c.seconds]),
    );
    if (index === 0) return undefined;
    return { allowed: false, scope: counters[index - 1].scope, retryAfterSeconds: retryAfterSeconds(Number(ms)) };
  }

  /**
   * What each counter holds now (null: no window open). On Redis one pipeline (a GET and a PTTL per counter, the reads
   * rate-limiter-flexible's `get` makes, in one round trip instead of one transaction each: a start reads five).
   */
  private async read(counters: Counter[]): Promise<(Reading | null)[]> {
    if (!this.redis) return Promise.all(counters.map((c) => c.limiter.get(c.key)));
    const pipeline = this.redis.pipeline();
    for (const c of counters) {
      const key = c.limiter.getKey(c.key);
      pipeline.get(key).pttl(key);
    }
    const replies = (await pipeline.exec()) ?? [];
    return counters.map((_, i) => {
      const [[getErr, points], [ttlErr, ttl]] = [replies[2 * i], replies[2 * i + 1]];
      if (getErr || ttlErr) throw getErr ?? ttlErr;
      if (points === null) return null;
      return { consumedPoints: parseInt(String(points), 10), msBeforeNext: Number(ttl) };
    });
  }

  /** Reads the counters: the refusal of the exhausted one that frees last (a send waits for all), or undefined. */
  private async exhausted(counters: Counter[]): Promise<LimitRefusal | undefined> {
    const current = await this.read(counters);
    let refusal: LimitRefusal | undefined;
    counters.forEach((c, i) => {
      const res = current[i];
      if (!res || !live(res) || res.consumedPoints < c.points) return;
      const seconds = retryAfterSeconds(res.msBeforeNext);
      if (!refusal || seconds > refusal.retryAfterSeconds) {
        refusal = { allowed: false, scope: c.scope, retryAfterSeconds: seconds };
      }
    });
    return refusal;
  }
}

/**
 * The durable abuse guard: RateLimiterRedis over `options.redis` when given (the caller keeps and closes that client),
 * else over a connection of its own to `config.store.url` (closed by close()); RateLimiterMemory when the store is
 * memory, for the single-process embedded mode only.
 */
export function createAbuseGuard(config: GuardConfig, options?: { redis?: Redis }): AbuseGuard {
  return new RateLimiterAbuseGuard(config, options);
}

/** A run note (`noteRun`: `<client>\n<destination HMAC>`, as `RUN_CHECK_ALLOWED` reads it too) split in two. */
function parseRunNote(note: string | null | undefined): { owner: string; destinationHash: string } | undefined {
  const cut = note ? note.indexOf('\n') : -1;
  return note && cut > 0 ? { owner: note.slice(0, cut), destinationHash: note.slice(cut + 1) } : undefined;
}

/** `redis` with the guard's scripts defined on it (idempotent: a caller's client may serve several guards). */
function withScripts(redis: Redis): Redis & GuardScripts {
  if (!('verifyflowGuardConsumeAll' in redis)) {
    redis.defineCommand('verifyflowGuardConsumeAll', { lua: CONSUME_ALL });
    redis.defineCommand('verifyflowGuardGiveBackLive', { lua: GIVE_BACK_LIVE });
    redis.defineCommand('verifyflowGuardRunCheckAllowed', { lua: RUN_CHECK_ALLOWED });
  }
  return redis as Redis & GuardScripts;
}

function withOverrides(defaults: AbuseLimits, overrides: Partial<AbuseLimits>): AbuseLimits {
  const defined = Object.entries(overrides).filter(([, v]) => v !== undefined);
  return { ...defaults, ...(Object.fromEntries(defined) as Partial<AbuseLimits>) };
}

function countryAllowed(subject: Subject, limits: AbuseLimits): boolean {
  if (subject.email || !limits.allowedCountries) return true;
  return subject.country !== undefined && limits.allowedCountries.includes(subject.country);
}

/** What a counter holds: the points counted in its window, and the time before that window ends. */
type Reading = Pick<RateLimiterRes, 'consumedPoints' | 'msBeforeNext'>;

/** A counter in a window that has not ended (the memory store drops ended ones on a timer, a moment later). */
function live(res: Reading | null): boolean {
  return res !== null && res.msBeforeNext > 0;
}

function retryAfterSeconds(msBeforeNext: number): number {
  return Math.max(1, Math.ceil(msBeforeNext / 1000));
}

/** Rolls back points just consumed; a failure only leaves a count too high (stricter), so it is not raised. */
async function giveBack(counters: Counter[]): Promise<void> {
  await Promise.allSettled(counters.map((c) => c.limiter.reward(c.key)));
}

/**
 * RateLimiterMemory keeps a storage per instance; limiters of one guard share the root's, so that like on Redis a
 * per-client override counts on the same keys as the defaults. The storage is an internal field: fail loudly if a
 * release renames it rather than silently splitting counters.
 */
function shareStorage(limiter: RateLimiterMemory, root: RateLimiterMemory): RateLimiterMemory {
  const target = limiter as unknown as { _memoryStorage?: unknown };
  const source = root as unknown as { _memoryStorage?: unknown };
  if (!target._memoryStorage || !source._memoryStorage) {
    throw new Error('rate-limiter-flexible: RateLimiterMemory no longer has _memoryStorage; the guard needs updating');
  }
  target._memoryStorage = source._memoryStorage;
  return limiter;
}
