import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { Webhook } from 'standardwebhooks';
import {
  CHANNELS,
  EVENT_FIELDS,
  PHONE_PROVIDERS,
  PROVIDERS,
  shared,
  type Channel,
  type EventField,
  type PhoneProvider,
  type Provider,
} from '../../workflows/contract';

/** The documented test client of sandbox mode (README examples use it); never accepted outside sandbox mode. */
export const SANDBOX_CLIENT_ID = 'sandbox';
export const SANDBOX_CLIENT_KEY = 'vf_test_sandbox';
/**
 * The Standard Webhooks secret of the sandbox test client's events (SANDBOX_EVENTS=true): public like its key, so
 * README examples verify signatures with it; never accepted outside sandbox mode.
 */
export const SANDBOX_EVENTS_SECRET = 'whsec_' + Buffer.from('verifyflow-sandbox-events-secret').toString('base64');

/** One API key: the SHA-256 of the secret a client sends as `Authorization: Bearer <secret>`. */
export interface ApiKey {
  client: string;
  sha256: Buffer;
}

/**
 * Server-side settings of one API client (CLIENTS_FILE): the defaults and bounds of its verifications (brand, channels
 * and their order, providers, SMS template), its SMS texts by name, limit overrides, events endpoint. A request may
 * narrow what the client allows, never widen it (src/auth/client-settings.ts).
 */
export interface ApiClientSettings {
  id: string;
  /** The `brand` of its phone verifications when a request gives none. */
  brand?: string;
  /**
   * The phone channels it may use, in the order its verifications try them when a request lists none (an `email`
   * channel only when a request lists it with its address). Unset: every channel.
   */
  channels?: Channel[];
  /**
   * The providers it may use: `vonage`, `sms_gateway` and `twilio` serve phone channels (a channel a request names
   * without a provider goes to the first of them that serves it), `twilio` push verifications too, `stripe` identity
   * ones. Unset: every provider.
   */
  providers?: Provider[];
  /** The `messageTemplate` of its sms_gateway channels when a request names none (one of `templates`, or `default`). */
  messageTemplate?: string;
  /** Wrong codes a phone verification takes, at most: the default and the ceiling of a request's `maxCodeAttempts`. */
  maxCodeAttempts?: number;
  /** How long a phone verification lives, at most: the default and the ceiling of a request's `expirySeconds`. */
  expirySeconds?: number;
  /**
   * Where its outbound events go: an http(s) URL, the Standard Webhooks secret (`whsec_<base64>`) they are signed with,
   * and the fields it opted into (none by default: never the phone number or identity data otherwise).
   */
  events?: { url: string; secret: string; fields?: EventField[] };
  /** `messageTemplate` names this client may use: name → text with `@@password@@` (and `@@brand@@`). */
  templates?: Record<string, string>;
  /** Overrides of the abuse limits (`N/<duration>` or `off`, `prefixDropDigits`), by the names of CLIENTS_FILE. */
  limits?: {
    sendsPerDestination?: string;
    sendsPerDestinationDay?: string;
    sendsPerPrefix?: string;
    sendsPerClient?: string;
    failedChecksPerDestination?: string;
    prefixDropDigits?: number;
  };
  /** Overrides ALLOWED_COUNTRIES for this client (ISO 3166 alpha-2). */
  allowedCountries?: string[];
}

/**
 * Who may call `/v1/*`: API keys (API_KEYS and CLIENTS_FILE, stored as SHA-256 hashes), JWT bearer tokens of the
 * platform's identity provider (verified against its JWKS), and per-client settings.
 */
export interface AuthConfig {
  keys: ApiKey[];
  jwt?: {
    jwksUrl: string;
    issuer: string;
    audience: string;
  };
  clients: Record<string, ApiClientSettings>;
}

const API_KEY_HASH = /^sha256:([0-9a-f]{64})$/;
const RESERVED_CLIENTS = ['temporal'];

const clientSchema = shared.clientId().refine((v) => !RESERVED_CLIENTS.includes(v), 'is reserved');
const keySchema = z.string().min(1);
const clientsFileSchema = z.strictObject({
  clients: z
    .array(
      z.strictObject({
        id: clientSchema,
        /** `sha256:<64 hex>` of each secret the client may present (several: key rotation). */
        keys: z.array(keySchema).max(20).optional(),
        brand: shared.brand().optional(),
        channels: z
          .array(z.enum(CHANNELS))
          .min(1)
          .refine((l) => new Set(l).size === l.length, 'must not list a channel twice')
          .optional(),
        providers: z
          .array(z.enum(PROVIDERS))
          .min(1)
          .refine((l) => new Set(l).size === l.length, 'must not list a provider twice')
          .optional(),
        messageTemplate: shared.templateName().optional(),
        maxCodeAttempts: z.number().int().min(1).max(10).optional(),
        expirySeconds: z.number().int().min(5).max(3600).optional(),
        templates: z.record(shared.templateName(), shared.otpTemplate()).optional(),
        /** Overrides of LIMIT_*: `N/<duration>` or `off` (and `prefixDropDigits`: a number 1-8). */
        limits: z
          .strictObject({
            sendsPerDestination: z.string().optional(),
            sendsPerDestinationDay: z.string().optional(),
            sendsPerPrefix: z.string().optional(),
            sendsPerClient: z.string().optional(),
            failedChecksPerDestination: z.string().optional(),
            prefixDropDigits: z.number().int().min(1).max(8).optional(),
          })
          .optional(),
        allowedCountries: z
          .array(z.string().regex(/^[A-Z]{2}$/, 'must be ISO 3166 alpha-2 codes like US'))
          .min(1)
          .optional(),
        events: z
          .strictObject({
            url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
            secret: z
              .string()
              .refine(isWebhookSecret, 'must be a Standard Webhooks secret: whsec_<base64 of 24-64 bytes>'),
            fields: z
              .array(z.enum(EVENT_FIELDS))
              .refine((l) => new Set(l).size === l.length, 'must not list a field twice')
              .optional(),
          })
          .optional(),
      }),
    )
    .min(1),
});

/**
 * Reads API_KEYS, CLIENTS_FILE and AUTH_JWKS_URL / AUTH_ISSUER / AUTH_AUDIENCE. Throws an Error naming the variable
 * (`loadConfig` turns it into a ConfigError). In sandbox mode without any key configured, the documented test client
 * `sandbox` (key `vf_test_sandbox`) is the one key; outside sandbox mode a server without keys or a JWKS refuses to
 * start, and plain (unhashed) keys are refused.
 */
export function loadAuthConfig(env: Record<string, string | undefined>, ctx: { sandbox: boolean }): AuthConfig {
  const keys: ApiKey[] = [];
  const clients: Record<string, ApiClientSettings> = {};
  const addKey = (where: string, client: string, key: string) => {
    const hashed = API_KEY_HASH.exec(key);
    if (hashed) keys.push({ client, sha256: Buffer.from(hashed[1], 'hex') });
    else if (ctx.sandbox && key.length >= 8 && !key.startsWith('sha256:')) keys.push({ client, sha256: sha256(key) });
    else {
      throw new Error(
        `${where}: the key of client ${client} must be sha256:<64 hex digits> (the SHA-256 of the secret)` +
          (ctx.sandbox
            ? ' or a plain secret of at least 8 characters'
            : '; plain keys are accepted in sandbox mode only'),
      );
    }
  };

  for (const entry of (env.API_KEYS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(':');
    const client = colon > 0 ? entry.slice(0, colon) : '';
    const parsed = clientSchema.safeParse(client);
    if (!parsed.success) {
      throw new Error(
        `API_KEYS: "${client || entry.slice(0, 12)}…" must start with a client id (${parsed.error.issues[0].message}) and a colon`,
      );
    }
    addKey('API_KEYS', client, entry.slice(colon + 1));
    clients[client] ??= { id: client };
  }

  if (env.CLIENTS_FILE) {
    for (const c of readClientsFile(env.CLIENTS_FILE)) {
      for (const key of c.keys ?? []) addKey(`CLIENTS_FILE ${c.id}`, c.id, key);
      if (c.events && !ctx.sandbox && !isHttpsOrLoopback(c.events.url)) {
        throw new Error(`CLIENTS_FILE ${c.id}: events.url must be https outside sandbox mode (or a loopback address)`);
      }
      if (c.events?.secret === SANDBOX_EVENTS_SECRET && !ctx.sandbox) {
        throw new Error(
          `CLIENTS_FILE ${c.id}: events.secret is the public sandbox secret; refused outside sandbox mode`,
        );
      }
      checkPhoneSettings(c);
      clients[c.id] = {
        id: c.id,
        ...(c.brand !== undefined && { brand: c.brand }),
        ...(c.channels && { channels: c.channels }),
        ...(c.providers && { providers: c.providers }),
        ...(c.messageTemplate !== undefined && { messageTemplate: c.messageTemplate }),
        ...(c.maxCodeAttempts !== undefined && { maxCodeAttempts: c.maxCodeAttempts }),
        ...(c.expirySeconds !== undefined && { expirySeconds: c.expirySeconds }),
        templates: c.templates,
        limits: c.limits,
        allowedCountries: c.allowedCountries,
        events: c.events,
      };
    }
  }

  let jwt: AuthConfig['jwt'];
  if (env.AUTH_JWKS_URL || env.AUTH_ISSUER || env.AUTH_AUDIENCE) {
    for (const name of ['AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE'] as const) {
      if (!env[name])
        throw new Error(`${name} is required with AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE (JWT bearer tokens)`);
    }
    if (!z.url({ protocol: /^https?$/ }).safeParse(env.AUTH_JWKS_URL).success) {
      throw new Error("AUTH_JWKS_URL must be an http(s) URL of the identity provider's JWKS");
    }
    if (!ctx.sandbox && !isHttpsOrLoopback(env.AUTH_JWKS_URL!)) {
      throw new Error(
        'AUTH_JWKS_URL must be https outside sandbox mode (keys fetched over plain http could be forged)',
      );
    }
    jwt = { jwksUrl: env.AUTH_JWKS_URL!, issuer: env.AUTH_ISSUER!, audience: env.AUTH_AUDIENCE! };
  }

  if (keys.length === 0 && !jwt) {
    if (!ctx.sandbox) {
      throw new Error(
        'no API clients: set API_KEYS (clientId:sha256:<hex>), CLIENTS_FILE, or AUTH_JWKS_URL + AUTH_ISSUER + ' +
          'AUTH_AUDIENCE — every /v1 route authenticates its caller',
      );
    }
  }
  if (ctx.sandbox && keys.length === 0) {
    keys.push({ client: SANDBOX_CLIENT_ID, sha256: sha256(SANDBOX_CLIENT_KEY) });
    clients[SANDBOX_CLIENT_ID] ??= { id: SANDBOX_CLIENT_ID };
  }
  return { keys, jwt, clients };
}

function readClientsFile(path: string): z.infer<typeof clientsFileSchema>['clients'] {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`CLIENTS_FILE: cannot read ${path} as YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = clientsFileSchema.safeParse(raw);
  if (!parsed.success) {
    // Paths only, never values: keys and templates are among them.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`);
    throw new Error(`CLIENTS_FILE: ${issues.join('; ')}`);
  }
  const ids = parsed.data.clients.map((c) => c.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup) throw new Error(`CLIENTS_FILE: client ${dup} is listed twice`);
  return parsed.data.clients;
}

/** Which channels each phone provider serves (`sms_gateway`: our own codes by SMS only). */
export const CHANNELS_OF: Record<PhoneProvider, readonly Channel[]> = {
  vonage: CHANNELS,
  sms_gateway: ['sms'],
  twilio: CHANNELS,
};

/** Settings that contradict each other: a channel no allowed provider serves, a default template it does not have. */
function checkPhoneSettings(c: z.infer<typeof clientsFileSchema>['clients'][number]): void {
  const where = `CLIENTS_FILE ${c.id}`;
  const phoneProviders = (c.providers ?? PHONE_PROVIDERS).filter((p): p is PhoneProvider =>
    (PHONE_PROVIDERS as readonly string[]).includes(p),
  );
  if (c.channels && phoneProviders.length === 0) {
    throw new Error(
      `${where}: channels are listed but providers allows no phone provider (${PHONE_PROVIDERS.join(', ')})`,
    );
  }
  for (const channel of c.channels ?? []) {
    if (!phoneProviders.some((p) => CHANNELS_OF[p].includes(channel))) {
      throw new Error(
        `${where}: channels: ${channel} is served by none of its providers (${phoneProviders.join(', ')}; ` +
          'sms_gateway sends sms only)',
      );
    }
  }
  if (c.messageTemplate !== undefined && c.messageTemplate !== 'default' && !c.templates?.[c.messageTemplate]) {
    throw new Error(
      `${where}: messageTemplate: ${c.messageTemplate} is not one of its templates` +
        ` (${Object.keys(c.templates ?? {}).join(', ') || 'none'}) nor default`,
    );
  }
}

function isHttpsOrLoopback(url: string): boolean {
  return url.startsWith('https:') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url);
}

function isWebhookSecret(secret: string): boolean {
  const raw = secret.startsWith('whsec_') ? secret.slice(6) : '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) return false;
  const bytes = Buffer.from(raw, 'base64').length;
  if (bytes < 24 || bytes > 64) return false;
  try {
    new Webhook(secret);
    return true;
  } catch {
    return false;
  }
}

export function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
