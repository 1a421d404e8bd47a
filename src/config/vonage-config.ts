import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { listOf } from './sms-config';

/** Vonage Verify v2 (Vonage's "Verify v2 API reference": a Vonage application's id and key; signed callbacks). */
export interface VonageConfig {
  applicationId: string;
  privateKey: string;
  signatureSecret: string;
  apiHost?: string;
}

/** The Vonage Verify variables, validated with the rest of the environment by `loadConfig`. */
export const vonageEnv = {
  VONAGE_APPLICATION_ID: z.string().min(1).optional(),
  VONAGE_PRIVATE_KEY: z.string().min(1).optional(),
  VONAGE_SIGNATURE_SECRET: z.string().min(16, 'VONAGE_SIGNATURE_SECRET must be at least 16 characters').optional(),
  VONAGE_API_HOST: z.url({ error: 'VONAGE_API_HOST must be a URL' }).optional(),
};
export type VonageEnv = z.infer<z.ZodObject<typeof vonageEnv>>;

/** The variables holding a Vonage Verify credential. */
export const VONAGE_CREDENTIALS = ['VONAGE_APPLICATION_ID', 'VONAGE_PRIVATE_KEY', 'VONAGE_SIGNATURE_SECRET'] as const;

const SANDBOX_APPLICATION_ID = '00000000-0000-4000-8000-000000000000';
const SANDBOX_SIGNATURE_SECRET = 'sandbox-signature-secret-not-for-production';
/** The sandbox's public values (in this repository): refused outside sandbox mode. */
export const VONAGE_PUBLIC_SANDBOX_VALUES: Partial<Record<(typeof VONAGE_CREDENTIALS)[number], string>> = {
  VONAGE_APPLICATION_ID: SANDBOX_APPLICATION_ID,
  VONAGE_SIGNATURE_SECRET: SANDBOX_SIGNATURE_SECRET,
};

/**
 * Vonage Verify's settings. In sandbox mode the sandbox application (its key pair made once under DATA_DIR) and the
 * emulator under PUBLIC_URL; outside it every credential is required — `otherCredentials` names what made the
 * deployment a real one when `auto` chose it. Throws an Error naming the variable (loadConfig prefixes it).
 */
export function loadVonageConfig(
  e: VonageEnv,
  options: { sandbox: boolean; auto: boolean; dataDir: string; publicUrl: string; otherCredentials: () => string[] },
): VonageConfig {
  if (options.sandbox) {
    // Only public values can be set here (anything else was refused): the sandbox application's own.
    return {
      applicationId: SANDBOX_APPLICATION_ID,
      privateKey: sandboxPrivateKey(options.dataDir),
      signatureSecret: SANDBOX_SIGNATURE_SECRET,
      apiHost: e.VONAGE_API_HOST ?? `${options.publicUrl}/sandbox/vonage`,
    };
  }
  const missing = VONAGE_CREDENTIALS.filter((name) => !e[name]);
  if (missing.length > 0) {
    const others = options.otherCredentials();
    throw new Error(
      `${listOf(missing)} ${missing.length > 1 ? 'are' : 'is'} required outside sandbox mode` +
        (options.auto ? ` (provider credentials are set: ${listOf(others)}; the sandbox runs only when none is)` : ''),
    );
  }
  return {
    applicationId: e.VONAGE_APPLICATION_ID!,
    privateKey: readKey(e.VONAGE_PRIVATE_KEY!),
    signatureSecret: e.VONAGE_SIGNATURE_SECRET!,
    apiHost: e.VONAGE_API_HOST,
  };
}

/** A PEM given inline (with literal or escaped newlines) or a path to one. */
function readKey(value: string): string {
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n');
  try {
    return readFileSync(value, 'utf8');
  } catch {
    throw new Error(`VONAGE_PRIVATE_KEY is neither a PEM nor a readable file (${value})`);
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
