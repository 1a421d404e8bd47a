import { generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../../workflows/contract';
import { parseCodecKeys, type CodecKeys } from '../temporal/codec';
import { loadAuthConfig, type AuthConfig } from './auth-config';
import { loadLimitsConfig, parseCountries, parseLimit, type GuardConfig } from './limits-config';
import { listOf, loadSmsConfig, requireTogether, smsProviderCredentials, type SmsConfig } from './sms-config';

/**
 * The one place that reads the environment. Everything else receives an AppConfig. The abstract class doubles as the
 * typed Nest injection token (declaration merging gives it the interface's fields).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- a field-less token class, on purpose
export abstract class AppConfig {}
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface AppConfig {
  host: string;
  port: number;
  /** How providers (and the sandbox) reach this app: webhook URLs and the sandbox's own URLs derive from it. */
  publicUrl: string;
  taskQueue: string;
  dataDir: string;
  temporal: {
    /** Connection from @temporalio/envconfig (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profiles). */
    connect: ClientConnectConfig;
    /** True when no TEMPORAL_ADDRESS/profile points elsewhere: `npm run dev` starts the local dev server. */
    embedded: boolean;
    cli?: string;
    /** PATH, where the launcher looks for `temporal`. */
    pathEnv: string;
    devPort: number;
    uiPort: number;
  };
  /**
   * Sandbox mode: providers are the built-in emulators. Only when VERIFYFLOW_SANDBOX=true, or `auto` with no provider
   * credential set at all; never beside a real credential (loadConfig refuses that).
   */
  sandbox: boolean;
  /**
   * Payload encryption (AES-256-GCM) on client, worker and replayer, and the codec server for the Web UI. Always on:
   * PAYLOAD_CODEC_KEYS, or in sandbox mode a key made once under DATA_DIR.
   */
  codec: {
    keys: CodecKeys;
    /** Bearer token the codec server requires; unset = only loopback callers in sandbox mode may use it. */
    token?: string;
    allowedOrigins: string[];
    allowUnauthenticated: boolean;
  };
  vonage: {
    applicationId: string;
    privateKey: string;
    signatureSecret: string;
    apiHost?: string;
  };
  /** Twilio Verify Push; absent outside sandbox mode when TWILIO_ACCOUNT_SID is not set. */
  twilio?: {
    accountSid: string;
    authToken: string;
    serviceSid: string;
    /** Replaces https://verify.twilio.com (the sandbox emulator by default in sandbox mode). */
    apiBase?: string;
    /** The public URL Twilio POSTs webhooks to, exactly as configured there: signatures are computed over it. */
    webhookUrl: string;
  };
  /** Stripe Identity; absent outside sandbox mode when STRIPE_SECRET_KEY is not set. */
  stripe?: {
    secretKey: string;
    /** Verifies `Stripe-Signature` on /webhooks/stripe. */
    webhookSecret: string;
    /** Replaces https://api.stripe.com (the sandbox emulator by default in sandbox mode). */
    apiBase?: string;
  };
  /** SMS: outbound HTTP gateways, our own OTP key, the Vonage SMS API, the inbound gateway (src/config/sms-config.ts). */
  sms: SmsConfig;
  /** Who may call /v1 (API keys, JWT bearer tokens) and each client's settings (src/config/auth-config.ts). */
  auth: AuthConfig;
  /** The abuse guard: limits, per-client overrides, its store (src/config/limits-config.ts). */
  limits: GuardConfig;
  /**
   * Keys the hashes that stand in for PII or requests where they are stored (abuse-guard store keys, the request hash
   * of a start): VERIFYFLOW_HASH_SECRET, else derived from the current payload codec key.
   */
  hashSecret: Buffer;
  worker: {
    maxCachedWorkflows?: number;
    /** Load zod and libphonenumber-js once per worker instead of once per workflow (default true; docs/PERFORMANCE.md). */
    shareWorkflowLibraries: boolean;
    /** Worker Deployment versioning: set both to run pinned, versioned workers (see docs/CHANGING-WORKFLOWS.md). */
    deploymentName?: string;
    buildId?: string;
    defaultVersioningBehavior: 'PINNED' | 'AUTO_UPGRADE';
  };
}

export class ConfigError extends Error {}

const SANDBOX_VONAGE_APPLICATION_ID = '00000000-0000-4000-8000-000000000000';
const SANDBOX_VONAGE_SIGNATURE_SECRET = 'sandbox-signature-secret-not-for-production';
const SANDBOX_TWILIO_ACCOUNT_SID = 'AC00000000000000000000000000000000';
const SANDBOX_TWILIO_AUTH_TOKEN = 'sandbox-twilio-auth-token-not-for-production';
const SANDBOX_TWILIO_SERVICE_SID = 'VA00000000000000000000000000000000';
const SANDBOX_STRIPE_SECRET_KEY = 'sk_test_sandbox_not_for_production';
const SANDBOX_STRIPE_WEBHOOK_SECRET = 'whsec_sandbox_not_for_production';

/**
 * The variables holding a provider credential (the SMS ones are in sms-config.ts): with any of them set, `auto` means
 * production, and `true` is refused. Endpoints (VONAGE_API_HOST, *_API_BASE, VONAGE_REST_HOST) and our own secrets
 * (PAYLOAD_CODEC_KEYS, CODEC_SERVER_TOKEN, OTP_HMAC_SECRET, SMS_INBOUND_ID_SECRET) are not provider credentials.
 */
const PROVIDER_CREDENTIALS = [
  'VONAGE_APPLICATION_ID',
  'VONAGE_PRIVATE_KEY',
  'VONAGE_SIGNATURE_SECRET',
  'TWILIO_ACCOUNT_SID',
  'TWILIO_AUTH_TOKEN',
  'TWILIO_VERIFY_SERVICE_SID',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
] as const;

/**
 * The public values of sandbox mode (they are in this repository, so anyone knows them): not a credential in sandbox
 * mode, refused outside it — a webhook signed with a public secret must never be accepted by a real deployment.
 */
const PUBLIC_SANDBOX_VALUES: Partial<Record<(typeof PROVIDER_CREDENTIALS)[number], string>> = {
  VONAGE_APPLICATION_ID: SANDBOX_VONAGE_APPLICATION_ID,
  VONAGE_SIGNATURE_SECRET: SANDBOX_VONAGE_SIGNATURE_SECRET,
  TWILIO_ACCOUNT_SID: SANDBOX_TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: SANDBOX_TWILIO_AUTH_TOKEN,
  TWILIO_VERIFY_SERVICE_SID: SANDBOX_TWILIO_SERVICE_SID,
  STRIPE_SECRET_KEY: SANDBOX_STRIPE_SECRET_KEY,
  STRIPE_WEBHOOK_SECRET: SANDBOX_STRIPE_WEBHOOK_SECRET,
};

const port = (name: string, def: number) =>
  z.coerce
    .number({ error: `${name} must be a port number` })
    .int()
    .min(0, `${name} must be a port number`)
    .max(65535, `${name} must be a port number`)
    .default(def);

const envSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port('PORT', 3000),
  PUBLIC_URL: z.url({ error: 'PUBLIC_URL must be an http(s) URL' }).optional(),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_PROFILE: z.string().min(1).optional(),
  TEMPORAL_CLI: z.string().min(1).optional(),
  TEMPORAL_DEV_PORT: port('TEMPORAL_DEV_PORT', 7233),
  TEMPORAL_UI_PORT: port('TEMPORAL_UI_PORT', 8233),
  DATA_DIR: z.string().min(1).default('.data'),
  VERIFYFLOW_SANDBOX: z
    .enum(['auto', 'true', 'false'], { error: 'VERIFYFLOW_SANDBOX must be auto, true or false' })
    .default('auto'),
  VONAGE_APPLICATION_ID: z.string().min(1).optional(),
  VONAGE_PRIVATE_KEY: z.string().min(1).optional(),
  VONAGE_SIGNATURE_SECRET: z.string().min(16, 'VONAGE_SIGNATURE_SECRET must be at least 16 characters').optional(),
  VONAGE_API_HOST: z.url({ error: 'VONAGE_API_HOST must be a URL' }).optional(),
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  WORKER_SHARE_WORKFLOW_LIBRARIES: z
    .enum(['true', 'false'], { error: 'WORKER_SHARE_WORKFLOW_LIBRARIES must be true or false' })
    .default('true'),
  PAYLOAD_CODEC_KEYS: z.string().min(1).optional(),
  CODEC_SERVER_TOKEN: z.string().min(24, 'CODEC_SERVER_TOKEN must be at least 24 characters').optional(),
  CODEC_SERVER_ORIGINS: z.string().min(1).optional(),
  TWILIO_ACCOUNT_SID: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'TWILIO_ACCOUNT_SID must be AC + 32 hex')
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().min(16, 'TWILIO_AUTH_TOKEN must be at least 16 characters').optional(),
  TWILIO_VERIFY_SERVICE_SID: z
    .string()
    .regex(/^VA[0-9a-fA-F]{32}$/, 'TWILIO_VERIFY_SERVICE_SID must be VA + 32 hex')
    .optional(),
  TWILIO_API_BASE: z.url({ error: 'TWILIO_API_BASE must be a URL' }).optional(),
  TWILIO_WEBHOOK_URL: z.url({ error: 'TWILIO_WEBHOOK_URL must be an http(s) URL' }).optional(),
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_(test|live)_\w+$/, 'STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key')
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_\w+$/, 'STRIPE_WEBHOOK_SECRET must start with whsec_')
    .optional(),
  STRIPE_API_BASE: z.url({ error: 'STRIPE_API_BASE must be a URL' }).optional(),
  TEMPORAL_DEPLOYMENT_NAME: z.string().min(1).optional(),
  TEMPORAL_BUILD_ID: z.string().min(1).optional(),
  TEMPORAL_VERSIONING_BEHAVIOR: z
    .enum(['PINNED', 'AUTO_UPGRADE'], { error: 'TEMPORAL_VERSIONING_BEHAVIOR must be PINNED or AUTO_UPGRADE' })
    .default('PINNED'),
  VERIFYFLOW_HASH_SECRET: z.string().min(32, 'VERIFYFLOW_HASH_SECRET must be at least 32 characters').optional(),
});

/** How the process runs: `singleProcess` (npm run dev, the tests) lets the abuse guard keep its counts in memory. */
export interface LoadOptions {
  singleProcess?: boolean;
}

/**
 * Validates the environment once, at startup, into a typed config. A bad value throws a ConfigError naming the
 * variable; the entry points print it and exit.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  const e = parsed.data;
  const sandbox = sandboxMode(e, env);
  const dataDir = resolve(e.DATA_DIR);
  const publicUrl = (e.PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/$/, '');

  if (!sandbox) {
    const copied = PROVIDER_CREDENTIALS.filter(
      (name) => e[name] !== undefined && e[name] === PUBLIC_SANDBOX_VALUES[name],
    );
    if (copied.length > 0) {
      const what = copied.length > 1 ? 'are public sandbox values' : 'is a public sandbox value';
      throw new ConfigError(`invalid configuration: ${listOf(copied)} ${what}; refused outside sandbox mode`);
    }
    try {
      requireTogether(e, ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_VERIFY_SERVICE_SID']);
      requireTogether(e, ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']);
    } catch (err) {
      throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
    }
  }

  let vonage: AppConfig['vonage'];
  if (sandbox) {
    // Only public values can be set here (anything else was refused): the sandbox application's own.
    vonage = {
      applicationId: SANDBOX_VONAGE_APPLICATION_ID,
      privateKey: sandboxPrivateKey(dataDir),
      signatureSecret: SANDBOX_VONAGE_SIGNATURE_SECRET,
      apiHost: e.VONAGE_API_HOST ?? `${publicUrl}/sandbox/vonage`,
    };
  } else {
    const missing = (['VONAGE_APPLICATION_ID', 'VONAGE_PRIVATE_KEY', 'VONAGE_SIGNATURE_SECRET'] as const).filter(
      (name) => !e[name],
    );
    if (missing.length > 0) {
      const others = providerCredentials(e, env);
      throw new ConfigError(
        `invalid configuration: ${listOf(missing)} ${missing.length > 1 ? 'are' : 'is'} required outside sandbox mode` +
          (e.VERIFYFLOW_SANDBOX === 'auto'
            ? ` (provider credentials are set: ${listOf(others)}; the sandbox runs only when none is)`
            : ''),
      );
    }
    vonage = {
      applicationId: e.VONAGE_APPLICATION_ID!,
      privateKey: readKey(e.VONAGE_PRIVATE_KEY!),
      signatureSecret: e.VONAGE_SIGNATURE_SECRET!,
      apiHost: e.VONAGE_API_HOST,
    };
  }

  let twilio: AppConfig['twilio'];
  if (sandbox || e.TWILIO_ACCOUNT_SID) {
    twilio = {
      accountSid: e.TWILIO_ACCOUNT_SID ?? SANDBOX_TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN ?? SANDBOX_TWILIO_AUTH_TOKEN,
      serviceSid: e.TWILIO_VERIFY_SERVICE_SID ?? SANDBOX_TWILIO_SERVICE_SID,
      apiBase: e.TWILIO_API_BASE ?? (sandbox ? `${publicUrl}/sandbox/twilio` : undefined),
      webhookUrl: e.TWILIO_WEBHOOK_URL ?? `${publicUrl}/webhooks/twilio`,
    };
  }

  let stripe: AppConfig['stripe'];
  if (sandbox || e.STRIPE_SECRET_KEY) {
    stripe = {
      secretKey: e.STRIPE_SECRET_KEY ?? SANDBOX_STRIPE_SECRET_KEY,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET ?? SANDBOX_STRIPE_WEBHOOK_SECRET,
      apiBase: e.STRIPE_API_BASE ?? (sandbox ? `${publicUrl}/sandbox/stripe` : undefined),
    };
  }

  if (!!e.TEMPORAL_DEPLOYMENT_NAME !== !!e.TEMPORAL_BUILD_ID) {
    throw new ConfigError('invalid configuration: TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID go together');
  }
  let codecKeys: CodecKeys;
  try {
    if (e.PAYLOAD_CODEC_KEYS) codecKeys = parseCodecKeys(e.PAYLOAD_CODEC_KEYS);
    else if (sandbox) codecKeys = parseCodecKeys(`sandbox:${sandboxCodecKey(dataDir)}`);
    else throw new Error('is required outside sandbox mode (e.g. k1:<openssl rand -base64 32>)');
  } catch (err) {
    throw new ConfigError(`invalid configuration: PAYLOAD_CODEC_KEYS ${(err as Error).message}`);
  }
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(e.HOST);
  const codec = {
    keys: codecKeys,
    token: e.CODEC_SERVER_TOKEN,
    allowedOrigins: (
      e.CODEC_SERVER_ORIGINS ?? `http://localhost:${e.TEMPORAL_UI_PORT},http://127.0.0.1:${e.TEMPORAL_UI_PORT}`
    )
      .split(',')
      .map((o) => o.trim().replace(/\/$/, ''))
      .filter(Boolean),
    allowUnauthenticated: sandbox && loopback && !e.CODEC_SERVER_TOKEN,
  };

  let sms: SmsConfig;
  try {
    sms = loadSmsConfig(env, { sandbox, publicUrl, vonageSignatureSecret: vonage.signatureSecret });
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }

  const hashSecret = e.VERIFYFLOW_HASH_SECRET
    ? Buffer.from(e.VERIFYFLOW_HASH_SECRET, 'utf8')
    : Buffer.from(hkdfSync('sha256', codecKeys.keys[codecKeys.current], Buffer.alloc(0), 'verifyflow/hash/v1', 32));
  let auth: AuthConfig;
  let limits: GuardConfig;
  try {
    auth = loadAuthConfig(env, { sandbox });
    limits = loadLimitsConfig(env, { singleProcess: options.singleProcess === true, hashSecret });
    limits.perClient = clientLimits(auth);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }

  const embedded = !e.TEMPORAL_ADDRESS && !e.TEMPORAL_PROFILE;
  const envVars = Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined));
  let connect: ClientConnectConfig;
  try {
    connect = loadClientConnectConfig({ profile: e.TEMPORAL_PROFILE, overrideEnvVars: envVars });
  } catch (err) {
    throw new ConfigError(`invalid Temporal connection configuration: ${(err as Error).message}`);
  }
  if (embedded) connect.connectionOptions.address = `127.0.0.1:${e.TEMPORAL_DEV_PORT}`;

  return {
    host: e.HOST,
    port: e.PORT,
    publicUrl,
    taskQueue: e.TEMPORAL_TASK_QUEUE,
    dataDir,
    temporal: {
      connect,
      embedded,
      cli: e.TEMPORAL_CLI,
      pathEnv: env.PATH ?? '',
      devPort: e.TEMPORAL_DEV_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
    },
    sandbox,
    codec,
    vonage,
    twilio,
    stripe,
    sms,
    auth,
    limits,
    hashSecret,
    worker: {
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      shareWorkflowLibraries: e.WORKER_SHARE_WORKFLOW_LIBRARIES === 'true',
      deploymentName: e.TEMPORAL_DEPLOYMENT_NAME,
      buildId: e.TEMPORAL_BUILD_ID,
      defaultVersioningBehavior: e.TEMPORAL_VERSIONING_BEHAVIOR,
    },
  };
}

/**
 * The provider credentials set in the environment, by variable name (see PROVIDER_CREDENTIALS and
 * `smsProviderCredentials`); a public sandbox value is not one.
 */
function providerCredentials(e: z.infer<typeof envSchema>, env: NodeJS.ProcessEnv): string[] {
  let sms: string[];
  try {
    sms = smsProviderCredentials(env);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
  return [
    ...PROVIDER_CREDENTIALS.filter((name) => e[name] !== undefined && e[name] !== PUBLIC_SANDBOX_VALUES[name]),
    ...sms,
  ];
}

/**
 * Whether the sandbox runs: VERIFYFLOW_SANDBOX=true, or `auto` with no provider credential at all. Never beside a real
 * one: the emulators would mark identities verified, show codes in the outbox and accept webhooks signed with public
 * secrets, on a server that also talks to real providers.
 */
function sandboxMode(e: z.infer<typeof envSchema>, env: NodeJS.ProcessEnv): boolean {
  if (e.VERIFYFLOW_SANDBOX === 'false') return false;
  const credentials = providerCredentials(e, env);
  if (e.VERIFYFLOW_SANDBOX === 'auto') return credentials.length === 0;
  if (credentials.length > 0) {
    throw new ConfigError(
      `invalid configuration: VERIFYFLOW_SANDBOX=true, but provider credentials are set: ${listOf(credentials)}. ` +
        'The sandbox never runs beside a real provider: unset them, or set VERIFYFLOW_SANDBOX to auto or false',
    );
  }
  return true;
}

/** The sandbox's payload key (base64, 32 bytes), made once per data directory like the Vonage key. */
function sandboxCodecKey(dataDir: string): string {
  const file = join(dataDir, 'sandbox', 'payload-codec.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const key = randomBytes(32).toString('base64');
  try {
    writeFileSync(file, key, { flag: 'wx', mode: 0o600 });
    return key;
  } catch {
    return readFileSync(file, 'utf8').trim();
  }
}

/** A PEM given inline (with literal or escaped newlines) or a path to one. */
function readKey(value: string): string {
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n');
  try {
    return readFileSync(value, 'utf8');
  } catch {
    throw new ConfigError(`invalid configuration: VONAGE_PRIVATE_KEY is neither a PEM nor a readable file (${value})`);
  }
}

/** The sandbox application's key pair, made once per data directory and shared by the API and worker processes. */
function sandboxPrivateKey(dataDir: string): string {
  const file = join(dataDir, 'sandbox', 'vonage-private.pem');
  if (existsSync(file)) return readFileSync(file, 'utf8');
  mkdirSync(dirname(file), { recursive: true });
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  try {
    writeFileSync(file, privateKey, { flag: 'wx', mode: 0o600 });
    return privateKey;
  } catch {
    return readFileSync(file, 'utf8'); // another process made it first
  }
}

/** Each client's limit overrides from CLIENTS_FILE, parsed like the LIMIT_* variables. */
function clientLimits(auth: AuthConfig): GuardConfig['perClient'] {
  const perClient: GuardConfig['perClient'] = {};
  for (const c of Object.values(auth.clients)) {
    const o: GuardConfig['perClient'][string] = {};
    const l = c.limits ?? {};
    const name = (key: string) => `CLIENTS_FILE ${c.id}.limits.${key}`;
    for (const key of LIMIT_KEYS) {
      if (l[key] !== undefined) o[key] = parseLimit(name(key), String(l[key]));
    }
    if (l.prefixDropDigits !== undefined) o.prefixDropDigits = Number(l.prefixDropDigits);
    if (c.allowedCountries)
      o.allowedCountries = parseCountries(`CLIENTS_FILE ${c.id}.allowedCountries`, c.allowedCountries.join(','));
    if (Object.keys(o).length) perClient[c.id] = o;
  }
  return perClient;
}
const LIMIT_KEYS = [
  'sendsPerDestination',
  'sendsPerDestinationDay',
  'sendsPerPrefix',
  'sendsPerClient',
  'failedChecksPerDestination',
] as const;
