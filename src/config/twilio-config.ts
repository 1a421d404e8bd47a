import { z } from 'zod';
import { requireTogether } from './sms-config';

/**
 * Twilio Verify (an account, its auth token and a Verify Service): Verify Push, and the phone channels of provider
 * `twilio` (Verifications: sms, call, whatsapp, email, sna) on the same service.
 */
export interface TwilioConfig {
  accountSid: string;
  authToken: string;
  serviceSid: string;
  /** Replaces https://verify.twilio.com (the sandbox emulator by default in sandbox mode). */
  apiBase?: string;
  /** The public URL Twilio POSTs webhooks to, exactly as configured there: signatures are computed over it. */
  webhookUrl: string;
  /** Send each phone verification's `brand` as Twilio's custom friendly name (an account feature Twilio enables). */
  customFriendlyName: boolean;
}

/** The Twilio variables, validated with the rest of the environment by `loadConfig`. */
export const twilioEnv = {
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
  TWILIO_VERIFY_CUSTOM_FRIENDLY_NAME: z
    .enum(['true', 'false'], { error: 'TWILIO_VERIFY_CUSTOM_FRIENDLY_NAME must be true or false' })
    .optional(),
};
export type TwilioEnv = z.infer<z.ZodObject<typeof twilioEnv>>;

/** The variables holding a Twilio credential: all of them, or none. */
export const TWILIO_CREDENTIALS = ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_VERIFY_SERVICE_SID'] as const;

const SANDBOX_ACCOUNT_SID = 'AC00000000000000000000000000000000';
const SANDBOX_AUTH_TOKEN = 'sandbox-twilio-auth-token-not-for-production';
const SANDBOX_SERVICE_SID = 'VA00000000000000000000000000000000';
/** The sandbox's public values (in this repository): refused outside sandbox mode. */
export const TWILIO_PUBLIC_SANDBOX_VALUES: Record<(typeof TWILIO_CREDENTIALS)[number], string> = {
  TWILIO_ACCOUNT_SID: SANDBOX_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: SANDBOX_AUTH_TOKEN,
  TWILIO_VERIFY_SERVICE_SID: SANDBOX_SERVICE_SID,
};

/** Outside sandbox mode: every Twilio credential or none (the Error names the missing ones). */
export function checkTwilioCredentials(e: TwilioEnv): void {
  requireTogether(e, TWILIO_CREDENTIALS);
}

/**
 * Twilio Verify's settings: the sandbox account and emulator in sandbox mode, the configured account when
 * TWILIO_ACCOUNT_SID is set, else none (push and `twilio` phone channels are off).
 */
export function loadTwilioConfig(
  e: TwilioEnv,
  options: { sandbox: boolean; publicUrl: string },
): TwilioConfig | undefined {
  if (!options.sandbox && !e.TWILIO_ACCOUNT_SID) return undefined;
  return {
    accountSid: e.TWILIO_ACCOUNT_SID ?? SANDBOX_ACCOUNT_SID,
    authToken: e.TWILIO_AUTH_TOKEN ?? SANDBOX_AUTH_TOKEN,
    serviceSid: e.TWILIO_VERIFY_SERVICE_SID ?? SANDBOX_SERVICE_SID,
    apiBase: e.TWILIO_API_BASE ?? (options.sandbox ? `${options.publicUrl}/sandbox/twilio` : undefined),
    webhookUrl: e.TWILIO_WEBHOOK_URL ?? `${options.publicUrl}/webhooks/twilio`,
    // Off by default outside the sandbox: Twilio refuses it (60200) on accounts without the feature.
    customFriendlyName: (e.TWILIO_VERIFY_CUSTOM_FRIENDLY_NAME ?? (options.sandbox ? 'true' : 'false')) === 'true',
  };
}
