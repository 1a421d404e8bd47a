import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../../workflows/definitions';

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
  /** Sandbox mode: providers are the built-in emulators (no credentials configured). */
  sandbox: boolean;
  vonage: {
    applicationId: string;
    privateKey: string;
    signatureSecret: string;
    apiHost?: string;
  };
  worker: { maxCachedWorkflows?: number };
}

export class ConfigError extends Error {}

const SANDBOX_VONAGE_APPLICATION_ID = '00000000-0000-4000-8000-000000000000';
const SANDBOX_VONAGE_SIGNATURE_SECRET = 'sandbox-signature-secret-not-for-production';

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
});

/**
 * Validates the environment once, at startup, into a typed config. A bad value throws a ConfigError naming the
 * variable; the entry points print it and exit.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${issues}`);
  }
  const e = parsed.data;
  const sandbox = e.VERIFYFLOW_SANDBOX === 'auto' ? !e.VONAGE_APPLICATION_ID : e.VERIFYFLOW_SANDBOX === 'true';
  const dataDir = resolve(e.DATA_DIR);
  const publicUrl = (e.PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/$/, '');

  let vonage: AppConfig['vonage'];
  if (sandbox) {
    vonage = {
      applicationId: e.VONAGE_APPLICATION_ID ?? SANDBOX_VONAGE_APPLICATION_ID,
      privateKey: e.VONAGE_PRIVATE_KEY ? readKey(e.VONAGE_PRIVATE_KEY) : sandboxPrivateKey(dataDir),
      signatureSecret: e.VONAGE_SIGNATURE_SECRET ?? SANDBOX_VONAGE_SIGNATURE_SECRET,
      apiHost: e.VONAGE_API_HOST ?? `${publicUrl}/sandbox/vonage`,
    };
  } else {
    for (const name of ['VONAGE_APPLICATION_ID', 'VONAGE_PRIVATE_KEY', 'VONAGE_SIGNATURE_SECRET'] as const) {
      if (!e[name]) throw new ConfigError(`invalid configuration: ${name} is required outside sandbox mode`);
    }
    vonage = {
      applicationId: e.VONAGE_APPLICATION_ID!,
      privateKey: readKey(e.VONAGE_PRIVATE_KEY!),
      signatureSecret: e.VONAGE_SIGNATURE_SECRET!,
      apiHost: e.VONAGE_API_HOST,
    };
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
    vonage,
    worker: { maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS },
  };
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
