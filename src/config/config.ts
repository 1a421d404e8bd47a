import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../../workflows/contract';
import { parseCodecKeys, type CodecKeys } from '../temporal/codec';
import { loadAuthConfig, SANDBOX_CLIENT_ID, SANDBOX_EVENTS_SECRET, type AuthConfig } from './auth-config';
import { loadNexusConfig, type NexusConfig } from './nexus-config';
import { loadLimitsConfig, parseCountries, parseLimit, type GuardConfig } from './limits-config';
import { listOf, loadSmsConfig, smsProviderCredentials, type SmsConfig } from './sms-config';
import { loadTelemetryConfig, type TelemetryConfig } from './telemetry-config';
import { DEFAULT_WORKFLOW_HEAP_MIB } from '../temporal/workflow-heap';
import {
  checkStripeCredentials,
  loadStripeConfig,
  STRIPE_CREDENTIALS,
  STRIPE_PUBLIC_SANDBOX_VALUES,
  stripeEnv,
  type StripeConfig,
} from './stripe-config';
import {
  checkTwilioCredentials,
  loadTwilioConfig,
  TWILIO_CREDENTIALS,
  TWILIO_PUBLIC_SANDBOX_VALUES,
  twilioEnv,
  type TwilioConfig,
} from './twilio-config';
import {
  loadVonageConfig,
  VONAGE_CREDENTIALS,
  VONAGE_PUBLIC_SANDBOX_VALUES,
  vonageEnv,
  type VonageConfig,
} from './vonage-config';

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
  /** Vonage Verify v2 (src/config/vonage-config.ts). */
  vonage: VonageConfig;
  /** Twilio Verify Push; absent outside sandbox mode when TWILIO_ACCOUNT_SID is not set (src/config/twilio-config.ts). */
  twilio?: TwilioConfig;
  /** Stripe Identity; absent outside sandbox mode when STRIPE_SECRET_KEY is not set (src/config/stripe-config.ts). */
  stripe?: StripeConfig;
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
    /**
     * The workflow thread's V8 heap in MiB (WORKER_WORKFLOW_HEAP_MIB, default 768; 0 = V8's own, from the machine's
     * memory): the worker process caps it at start-up and sizes its cache from it when WORKER_MAX_CACHED_WORKFLOWS is
     * unset.
     */
    workflowHeapMiB: number;
    /** The NODE_OPTIONS the process was started with: a heap size set there stands (src/temporal/workflow-heap.ts). */
    nodeOptions?: string;
    /** Load zod and libphonenumber-js once per worker instead of once per workflow (default true; docs/PERFORMANCE.md). */
    shareWorkflowLibraries: boolean;
    /**
     * Workflow tasks and activities the worker runs at once (WORKER_MAX_CONCURRENT_WORKFLOW_TASKS, default the SDK's 40;
     * WORKER_MAX_CONCURRENT_ACTIVITIES, default the SDK's 100): measured in docs/PERFORMANCE.md ("Worker options").
     */
    maxConcurrentWorkflowTasks?: number;
    maxConcurrentActivities?: number;
    /** Worker Deployment versioning: set both to run pinned, versioned workers (see docs/CHANGING-WORKFLOWS.md). */
    deploymentName?: string;
    buildId?: string;
    defaultVersioningBehavior: 'PINNED' | 'AUTO_UPGRADE';
  };
  /** Traces (OTLP), the worker's Prometheus metrics, the price table of the cost metric (telemetry-config.ts). */
  telemetry: TelemetryConfig;
  /** The `verification` Nexus service: the API client of each Nexus endpoint (src/config/nexus-config.ts). */
  nexus: NexusConfig;
}

export class ConfigError extends Error {}

/**
 * The variables holding a provider credential (each provider's config module lists its own; the SMS ones are in
 * sms-config.ts): with any of them set, `auto` means production, and `true` is refused. Endpoints (VONAGE_API_HOST,
 * *_API_BASE, VONAGE_REST_HOST) and our own secrets (PAYLOAD_CODEC_KEYS, CODEC_SERVER_TOKEN, OTP_HMAC_SECRET,
 * SMS_INBOUND_ID_SECRET) are not provider credentials.
 */
const PROVIDER_CREDENTIALS = [...VONAGE_CREDENTIALS, ...TWILIO_CREDENTIALS, ...STRIPE_CREDENTIALS] as const;

/**
 * The public values of sandbox mode (they are in this repository, so anyone knows them): not a credential in sandbox
 * mode, refused outside it — a webhook signed with a public secret must never be accepted by a real deployment.
 */
const PUBLIC_SANDBOX_VALUES: Partial<Record<(typeof PROVIDER_CREDENTIALS)[number], string>> = {
  ...VONAGE_PUBLIC_SANDBOX_VALUES,
  ...TWILIO_PUBLIC_SANDBOX_VALUES,
  ...STRIPE_PUBLIC_SANDBOX_VALUES,
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
  SANDBOX_EVENTS: z.enum(['true', 'false'], { error: 'SANDBOX_EVENTS must be true or false' }).optional(),
  ...vonageEnv,
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  WORKER_WORKFLOW_HEAP_MIB: z.coerce
    .number({ error: 'WORKER_WORKFLOW_HEAP_MIB must be a number of MiB' })
    .int()
    .refine((n) => n === 0 || n >= 256, 'WORKER_WORKFLOW_HEAP_MIB must be 0 (V8 default) or at least 256')
    .default(DEFAULT_WORKFLOW_HEAP_MIB),
  WORKER_SHARE_WORKFLOW_LIBRARIES: z
    .enum(['true', 'false'], { error: 'WORKER_SHARE_WORKFLOW_LIBRARIES must be true or false' })
    .default('true'),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce
    .number({ error: 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be a whole number' })
    .int('WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be a whole number')
    .min(2, 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be at least 2 (the SDK needs two with a workflow cache)')
    .optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce
    .number({ error: 'WORKER_MAX_CONCURRENT_ACTIVITIES must be a whole number' })
    .int('WORKER_MAX_CONCURRENT_ACTIVITIES must be a whole number')
    .min(1, 'WORKER_MAX_CONCURRENT_ACTIVITIES must be at least 1')
    .optional(),
  PAYLOAD_CODEC_KEYS: z.string().min(1).optional(),
  CODEC_SERVER_TOKEN: z.string().min(24, 'CODEC_SERVER_TOKEN must be at least 24 characters').optional(),
  CODEC_SERVER_ORIGINS: z.string().min(1).optional(),
  ...twilioEnv,
  ...stripeEnv,
  TEMPORAL_DEPLOYMENT_NAME: z.string().min(1).optional(),
  TEMPORAL_BUILD_ID: z.string().min(1).optional(),
  TEMPORAL_VERSIONING_BEHAVIOR: z
    .enum(['PINNED', 'AUTO_UPGRADE'], { error: 'TEMPORAL_VERSIONING_BEHAVIOR must be PINNED or AUTO_UPGRADE' })
    .default('PINNED'),
  VERIFYFLOW_HASH_SECRET: z.string().min(32, 'VERIFYFLOW_HASH_SECRET must be at least 32 characters').optional(),
});

/**
 * How the process runs: `singleProcess` (npm run dev, the tests) lets the abuse guard keep its counts in memory;
 * `sandboxEventsByDefault` (npm run dev) sends the sandbox client's events to the sandbox receiver unless
 * SANDBOX_EVENTS says otherwise.
 */
export interface LoadOptions {
  singleProcess?: boolean;
  sandboxEventsByDefault?: boolean;
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
    invalid(() => {
      checkTwilioCredentials(e);
      checkStripeCredentials(e);
    });
  }

  const vonage = invalid(() =>
    loadVonageConfig(e, {
      sandbox,
      auto: e.VERIFYFLOW_SANDBOX === 'auto',
      dataDir,
      publicUrl,
      otherCredentials: () => providerCredentials(e, env),
    }),
  );
  const twilio = loadTwilioConfig(e, { sandbox, publicUrl });
  const stripe = loadStripeConfig(e, { sandbox, publicUrl });

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
    const sandboxEvents = e.SANDBOX_EVENTS
      ? e.SANDBOX_EVENTS === 'true'
      : sandbox && options.sandboxEventsByDefault === true;
    if (sandboxEvents) {
      if (!sandbox) throw new Error('SANDBOX_EVENTS=true is for sandbox mode only');
      // The sandbox test client's events go to the sandbox receiver, signed with the documented test secret.
      const client = (auth.clients[SANDBOX_CLIENT_ID] ??= { id: SANDBOX_CLIENT_ID });
      client.events ??= { url: `${publicUrl}/sandbox/events`, secret: SANDBOX_EVENTS_SECRET };
    }
    limits = loadLimitsConfig(env, { singleProcess: options.singleProcess === true, hashSecret });
    limits.perClient = clientLimits(auth);
  } catch (err) {
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }

  const telemetry = invalid(() => loadTelemetryConfig(env));
  const nexus = invalid(() => loadNexusConfig(env, { sandbox }));

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
      workflowHeapMiB: e.WORKER_WORKFLOW_HEAP_MIB,
      nodeOptions: env.NODE_OPTIONS,
      shareWorkflowLibraries: e.WORKER_SHARE_WORKFLOW_LIBRARIES === 'true',
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      deploymentName: e.TEMPORAL_DEPLOYMENT_NAME,
      buildId: e.TEMPORAL_BUILD_ID,
      defaultVersioningBehavior: e.TEMPORAL_VERSIONING_BEHAVIOR,
    },
    telemetry,
    nexus,
  };
}

/** Runs a provider loader: its Error becomes a ConfigError naming the variable (a ConfigError passes as it is). */
function invalid<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`invalid configuration: ${(err as Error).message}`);
  }
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
