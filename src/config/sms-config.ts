import { isIP } from 'node:net';
import { z } from 'zod';
import type { SmsGatewayConfig } from '../../providers/sms-gateway/http-gateways';
import { VONAGE_SIGNATURE_METHODS, type VonageSignatureMethod } from '../../providers/vonage/sms-receipt';
import { shared, type SmsRoute } from '../../workflows/contract';

/** A sliding-window limit: at most `limit` hits per `windowSeconds`. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

/**
 * SMS settings: outbound HTTP gateways (the `sms_gateway` provider), our own OTP's key, the Vonage SMS API and the
 * inbound Auth0-compatible gateway (`POST /sms-gateway`). Parsed from the environment by `loadConfig` only.
 */
export interface SmsConfig {
  /** Configured gateways, the default one first (sandbox: `sandbox`, `sandbox-500`, `sandbox-hang`, then yours). */
  gateways: SmsGatewayConfig[];
  /** Per-call timeout of a gateway without its own `timeoutMs` (SMS_GATEWAY_TIMEOUT_MS, default 30 s). */
  gatewayTimeoutMs: number;
  /** Key of our OTP HMACs (OTP_HMAC_SECRET); absent outside sandbox mode when no gateway is configured. */
  otpHmacSecret?: Buffer;
  /** The Vonage SMS API (VONAGE_API_KEY / VONAGE_API_SECRET); absent when not configured. */
  vonageSms?: {
    apiKey: string;
    apiSecret: string;
    restHost?: string;
    /** Where Vonage sends delivery receipts: this app's /webhooks/vonage-sms. */
    callbackUrl: string;
    /** The account's signature secret and method: every receipt must carry a valid `sig`. */
    signatureSecret: string;
    signatureMethod: VonageSignatureMethod;
  };
  /** The inbound gateway; absent (the endpoint answers 503) when SMS_INBOUND_SECRET is not set outside sandbox. */
  inbound?: {
    /** The Auth0 custom SMS gateway's `gateway_authentication`: the token must carry this `sub` and `aud`, signed with this secret. */
    subject: string;
    audience: string;
    secret: string;
    secretBase64: boolean;
    /** Answer within this budget (below Auth0's 30 s): 200 once accepted, else 504. */
    budgetMs: number;
    routes: SmsRoute[];
    /** Keys the hash that names workflows after recipients and IPs (no PII in IDs). */
    idSecret: Buffer;
    dedupeWindowSeconds: number;
    receiptTimeoutSeconds: number;
    attemptsPerRoute: number;
    rateLimits: { recipient?: RateLimitRule; ip?: RateLimitRule };
  };
}

const SANDBOX_GATEWAY_AUTH = {
  subject: 'urn:verifyflow',
  audience: 'urn:verifyflow:sandbox-sms-gateway',
  secret: 'sandbox-gateway-secret-not-for-production',
};
const SANDBOX_OTP_HMAC_SECRET = 'sandbox-otp-hmac-secret-not-for-production';
const SANDBOX_VONAGE_API_KEY = 'abcd1234';
const SANDBOX_VONAGE_API_SECRET = 'sandbox-vonage-api-secret';
const SANDBOX_INBOUND = {
  subject: 'urn:Auth0',
  audience: 'urn:verifyflow:sms-gateway',
  secret: 'sandbox-sms-gateway-secret-not-for-production',
};
const SANDBOX_ID_SECRET = 'sandbox-sms-id-secret-not-for-production';

/**
 * The public values of sandbox mode (they are in this repository, so anyone knows them): refused outside sandbox
 * mode, so a copied sandbox value never ends up signing or verifying real traffic.
 */
const PUBLIC_SANDBOX_VALUES = {
  OTP_HMAC_SECRET: SANDBOX_OTP_HMAC_SECRET,
  VONAGE_API_KEY: SANDBOX_VONAGE_API_KEY,
  VONAGE_API_SECRET: SANDBOX_VONAGE_API_SECRET,
  SMS_INBOUND_SECRET: SANDBOX_INBOUND.secret,
  SMS_INBOUND_ID_SECRET: SANDBOX_ID_SECRET,
} as const;

const bool = (name: string) =>
  z.enum(['true', 'false'], { error: `${name} must be true or false` }).transform((v) => v === 'true');
const int = (name: string, min: number, max: number, def: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`)
    .default(def);
const secret = (name: string) => z.string().min(32, `${name} must be at least 32 characters`).optional();
const rule = (name: string) =>
  z
    .string()
    .regex(/^(off|\d+\/\d+)$/, `${name} must be N/SECONDS (e.g. 5/600) or off`)
    // null, not undefined, for "off": zod would put the default in place of an undefined output.
    .transform((v): RateLimitRule | null => {
      if (v === 'off') return null;
      const [limit, windowSeconds] = v.split('/').map(Number);
      return { limit, windowSeconds };
    })
    .refine((r) => !r || (r.limit >= 1 && r.windowSeconds >= 1), `${name} must have N ≥ 1 and SECONDS ≥ 1`);

const gatewaySchema = z
  .strictObject({
    name: shared.gatewayName(),
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    sender: z.string().trim().min(1).max(32).optional(),
    subject: z.string().min(1).optional(),
    audience: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    secretBase64: z.boolean().optional(),
    timeoutMs: z.number().int().min(100).max(110_000).optional(),
    forwardReqInfo: z.boolean().optional(),
    /** SMS texts callers may name in `messageTemplate` for this gateway: name → text with `@@password@@`. */
    templates: z.record(shared.templateName(), shared.otpTemplate()).optional(),
  })
  .refine((g) => !g.secret || (g.subject && g.audience), {
    message: 'a gateway with a secret needs subject and audience (Auth0 custom SMS gateway gateway_authentication)',
  });

const envSchema = z.object({
  SMS_GATEWAYS: z.string().min(1).optional(),
  SMS_GATEWAY_TIMEOUT_MS: int('SMS_GATEWAY_TIMEOUT_MS', 100, 110_000, 30_000),
  OTP_HMAC_SECRET: secret('OTP_HMAC_SECRET'),
  VONAGE_API_KEY: z.string().min(1).optional(),
  VONAGE_API_SECRET: z.string().min(1).optional(),
  VONAGE_REST_HOST: z.url({ error: 'VONAGE_REST_HOST must be a URL' }).optional(),
  VONAGE_SIGNATURE_METHOD: z
    .enum(VONAGE_SIGNATURE_METHODS, { error: `VONAGE_SIGNATURE_METHOD must be one of ${VONAGE_SIGNATURE_METHODS}` })
    .default('sha256'),
  SMS_INBOUND_SECRET: z.string().min(1).optional(),
  SMS_INBOUND_SECRET_BASE64: bool('SMS_INBOUND_SECRET_BASE64').default(false),
  SMS_INBOUND_SUBJECT: z.string().min(1).optional(),
  SMS_INBOUND_AUDIENCE: z.string().min(1).optional(),
  SMS_INBOUND_BUDGET_MS: int('SMS_INBOUND_BUDGET_MS', 1000, 29_000, 25_000),
  SMS_INBOUND_ROUTES: z.string().min(1).optional(),
  SMS_INBOUND_ID_SECRET: secret('SMS_INBOUND_ID_SECRET'),
  SMS_INBOUND_DEDUPE_SECONDS: int('SMS_INBOUND_DEDUPE_SECONDS', 0, 86_400, 600),
  SMS_INBOUND_RECEIPT_TIMEOUT_SECONDS: int('SMS_INBOUND_RECEIPT_TIMEOUT_SECONDS', 1, 86_400, 600),
  SMS_INBOUND_ATTEMPTS_PER_ROUTE: int('SMS_INBOUND_ATTEMPTS_PER_ROUTE', 1, 10, 2),
  SMS_INBOUND_RATE_LIMIT_RECIPIENT: rule('SMS_INBOUND_RATE_LIMIT_RECIPIENT').default(() => ({
    limit: 5,
    windowSeconds: 600,
  })),
  SMS_INBOUND_RATE_LIMIT_IP: rule('SMS_INBOUND_RATE_LIMIT_IP').default(() => ({ limit: 20, windowSeconds: 600 })),
});

/**
 * Reads the SMS variables (see docs/sms-gateway.md). Throws an Error naming the variable; `loadConfig` turns it into
 * a ConfigError. In sandbox mode every part has a working default pointing at the sandbox emulators.
 */
export function loadSmsConfig(
  env: Record<string, string | undefined>,
  ctx: { sandbox: boolean; publicUrl: string; vonageSignatureSecret?: string },
): SmsConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; '));
  }
  const e = parsed.data;
  const { sandbox, publicUrl } = ctx;

  const own = parseGateways(e.SMS_GATEWAYS);
  if (!sandbox) {
    for (const [name, value] of Object.entries(PUBLIC_SANDBOX_VALUES)) {
      if (e[name as keyof typeof PUBLIC_SANDBOX_VALUES] === value) {
        throw new Error(`${name} is the public sandbox value; it is refused outside sandbox mode`);
      }
    }
    const copied = own.find((g) => g.auth?.secret === SANDBOX_GATEWAY_AUTH.secret);
    if (copied) {
      throw new Error(
        `SMS_GATEWAYS: gateway ${copied.name} uses the public sandbox secret; refused outside sandbox mode`,
      );
    }
  }
  const sandboxGateways: SmsGatewayConfig[] = sandbox
    ? [
        {
          name: 'sandbox',
          url: `${publicUrl}/sandbox/sms-gateway`,
          auth: SANDBOX_GATEWAY_AUTH,
          templates: { short: '@@password@@ is your @@brand@@ code' },
        },
        { name: 'sandbox-500', url: `${publicUrl}/sandbox/sms-gateway/500`, auth: SANDBOX_GATEWAY_AUTH },
        { name: 'sandbox-hang', url: `${publicUrl}/sandbox/sms-gateway/hang`, auth: SANDBOX_GATEWAY_AUTH },
      ].filter((g) => !own.some((o) => o.name === g.name))
    : [];
  const gateways = [...sandboxGateways, ...own];

  if (!sandbox && gateways.length > 0 && !e.OTP_HMAC_SECRET) {
    throw new Error('OTP_HMAC_SECRET is required when SMS_GATEWAYS is set (it keys the HMAC of our own codes)');
  }
  const otpSecret = e.OTP_HMAC_SECRET ?? (sandbox ? SANDBOX_OTP_HMAC_SECRET : undefined);

  let vonageSms: SmsConfig['vonageSms'];
  if (!sandbox) requireTogether(e, ['VONAGE_API_KEY', 'VONAGE_API_SECRET']);
  if (sandbox || (e.VONAGE_API_KEY && e.VONAGE_API_SECRET)) {
    if (!ctx.vonageSignatureSecret) {
      throw new Error('VONAGE_SIGNATURE_SECRET is required with VONAGE_API_KEY (delivery receipts are verified)');
    }
    vonageSms = {
      apiKey: e.VONAGE_API_KEY ?? SANDBOX_VONAGE_API_KEY,
      apiSecret: e.VONAGE_API_SECRET ?? SANDBOX_VONAGE_API_SECRET,
      restHost: e.VONAGE_REST_HOST ?? (sandbox ? `${publicUrl}/sandbox/vonage-sms` : undefined),
      callbackUrl: `${publicUrl}/webhooks/vonage-sms`,
      signatureSecret: ctx.vonageSignatureSecret,
      signatureMethod: e.VONAGE_SIGNATURE_METHOD,
    };
  }

  let inbound: SmsConfig['inbound'];
  if (sandbox || e.SMS_INBOUND_SECRET) {
    if (!sandbox) requireTogether(e, ['SMS_INBOUND_SECRET', 'SMS_INBOUND_AUDIENCE', 'SMS_INBOUND_ID_SECRET']);
    const routes = parseRoutes(
      e.SMS_INBOUND_ROUTES ??
        (sandbox
          ? 'vonage,sms_gateway:sandbox'
          : [...(vonageSms ? ['vonage'] : []), ...own.map((g) => `sms_gateway:${g.name}`)].join(',')),
    );
    for (const r of routes) {
      if (r.provider === 'vonage' && !vonageSms) {
        throw new Error('SMS_INBOUND_ROUTES: route vonage needs VONAGE_API_KEY and VONAGE_API_SECRET');
      }
      if (r.provider === 'sms_gateway' && !gateways.some((g) => g.name === r.gateway)) {
        throw new Error(`SMS_INBOUND_ROUTES: no gateway named ${r.gateway} in SMS_GATEWAYS`);
      }
    }
    if (routes.length === 0) {
      throw new Error('SMS_INBOUND_ROUTES: no route to deliver with (configure VONAGE_API_KEY or SMS_GATEWAYS)');
    }
    inbound = {
      subject: e.SMS_INBOUND_SUBJECT ?? SANDBOX_INBOUND.subject,
      audience: e.SMS_INBOUND_AUDIENCE ?? SANDBOX_INBOUND.audience,
      secret: e.SMS_INBOUND_SECRET ?? SANDBOX_INBOUND.secret,
      secretBase64: e.SMS_INBOUND_SECRET_BASE64,
      budgetMs: e.SMS_INBOUND_BUDGET_MS,
      routes,
      idSecret: Buffer.from(e.SMS_INBOUND_ID_SECRET ?? SANDBOX_ID_SECRET, 'utf8'),
      dedupeWindowSeconds: e.SMS_INBOUND_DEDUPE_SECONDS,
      receiptTimeoutSeconds: e.SMS_INBOUND_RECEIPT_TIMEOUT_SECONDS,
      attemptsPerRoute: e.SMS_INBOUND_ATTEMPTS_PER_ROUTE,
      rateLimits: {
        recipient: e.SMS_INBOUND_RATE_LIMIT_RECIPIENT ?? undefined,
        ip: e.SMS_INBOUND_RATE_LIMIT_IP ?? undefined,
      },
    };
  }

  return {
    gateways,
    gatewayTimeoutMs: e.SMS_GATEWAY_TIMEOUT_MS,
    otpHmacSecret: otpSecret ? Buffer.from(otpSecret, 'utf8') : undefined,
    vonageSms,
    inbound,
  };
}

/**
 * The SMS variables that configure a real provider, by name: the Vonage SMS API key and secret, the inbound
 * gateway's secret, and every gateway of SMS_GATEWAYS whose URL leaves this machine (a gateway on a loopback address
 * is a local test server, not a provider, whatever its secret). A value equal to its public sandbox value is not a
 * credential. `loadConfig` runs the sandbox only when this list (and its own) is empty.
 */
export function smsProviderCredentials(env: Record<string, string | undefined>): string[] {
  const set = (['VONAGE_API_KEY', 'VONAGE_API_SECRET', 'SMS_INBOUND_SECRET'] as const).filter(
    (name) => env[name] !== undefined && env[name] !== '' && env[name] !== PUBLIC_SANDBOX_VALUES[name],
  );
  const remote = parseGateways(env.SMS_GATEWAYS)
    .filter((g) => !isLoopbackUrl(g.url))
    .map((g) => `SMS_GATEWAYS (${g.name})`);
  return [...set, ...remote];
}

/** True for an http(s) URL whose host is this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && (host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f[0-9a-f]{2}:/.test(host));
}

/** Variables that only work together: when some are set, the error names exactly the ones missing. */
export function requireTogether<K extends string>(env: Partial<Record<K, unknown>>, names: readonly K[]): void {
  const set = names.filter((n) => env[n] !== undefined && env[n] !== '');
  const missing = names.filter((n) => !set.includes(n));
  if (set.length > 0 && missing.length > 0) {
    throw new Error(`${listOf(missing)} ${missing.length > 1 ? 'are' : 'is'} required with ${listOf(set)}`);
  }
}

/** `A`, `A and B`, `A, B and C`. */
export function listOf(names: readonly string[]): string {
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : (names[0] ?? '');
}

function parseGateways(json: string | undefined): SmsGatewayConfig[] {
  if (!json) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('SMS_GATEWAYS must be a JSON array of {name, url, sender?, subject?, audience?, secret?, …}');
  }
  const parsed = z.array(gatewaySchema).min(1).safeParse(raw);
  if (!parsed.success) {
    // Never echo values: a secret could be among them.
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'SMS_GATEWAYS'}: ${i.message}`);
    throw new Error(`SMS_GATEWAYS: ${issues.join('; ')}`);
  }
  const names = parsed.data.map((g) => g.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`SMS_GATEWAYS: duplicate gateway name ${dup}`);
  return parsed.data.map((g) => ({
    name: g.name,
    url: g.url,
    sender: g.sender,
    timeoutMs: g.timeoutMs,
    forwardReqInfo: g.forwardReqInfo,
    templates: g.templates,
    auth: g.secret
      ? { subject: g.subject!, audience: g.audience!, secret: g.secret, secretBase64: g.secretBase64 }
      : undefined,
  }));
}

/** `vonage,sms_gateway:backup` → routes. */
function parseRoutes(spec: string): SmsRoute[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s): SmsRoute => {
      if (s === 'vonage') return { provider: 'vonage' };
      const m = /^sms_gateway:(.+)$/.exec(s);
      if (!m || !shared.gatewayName().safeParse(m[1]).success) {
        throw new Error(`SMS_INBOUND_ROUTES: "${s}" is neither vonage nor sms_gateway:<gateway name>`);
      }
      return { provider: 'sms_gateway', gateway: m[1] };
    });
}
