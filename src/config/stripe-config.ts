import { z } from 'zod';
import { requireTogether } from './sms-config';

/** Stripe Identity (Stripe's VerificationSession API and its signed webhooks). */
export interface StripeConfig {
  secretKey: string;
  /** Verifies `Stripe-Signature` on /webhooks/stripe. */
  webhookSecret: string;
  /** Replaces https://api.stripe.com (the sandbox emulator by default in sandbox mode). */
  apiBase?: string;
}

/** The Stripe variables, validated with the rest of the environment by `loadConfig`. */
export const stripeEnv = {
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_(test|live)_\w+$/, 'STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key')
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_\w+$/, 'STRIPE_WEBHOOK_SECRET must start with whsec_')
    .optional(),
  STRIPE_API_BASE: z.url({ error: 'STRIPE_API_BASE must be a URL' }).optional(),
};
export type StripeEnv = z.infer<z.ZodObject<typeof stripeEnv>>;

/** The variables holding a Stripe credential: both, or neither. */
export const STRIPE_CREDENTIALS = ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;

const SANDBOX_SECRET_KEY = 'sk_test_sandbox_not_for_production';
const SANDBOX_WEBHOOK_SECRET = 'whsec_sandbox_not_for_production';
/** The sandbox's public values (in this repository): refused outside sandbox mode. */
export const STRIPE_PUBLIC_SANDBOX_VALUES: Record<(typeof STRIPE_CREDENTIALS)[number], string> = {
  STRIPE_SECRET_KEY: SANDBOX_SECRET_KEY,
  STRIPE_WEBHOOK_SECRET: SANDBOX_WEBHOOK_SECRET,
};

/** Outside sandbox mode: both Stripe credentials or neither (the Error names the missing one). */
export function checkStripeCredentials(e: StripeEnv): void {
  requireTogether(e, STRIPE_CREDENTIALS);
}

/**
 * Stripe Identity's settings: the sandbox keys and emulator in sandbox mode, the configured key when
 * STRIPE_SECRET_KEY is set, else none (identity is off).
 */
export function loadStripeConfig(
  e: StripeEnv,
  options: { sandbox: boolean; publicUrl: string },
): StripeConfig | undefined {
  if (!options.sandbox && !e.STRIPE_SECRET_KEY) return undefined;
  return {
    secretKey: e.STRIPE_SECRET_KEY ?? SANDBOX_SECRET_KEY,
    webhookSecret: e.STRIPE_WEBHOOK_SECRET ?? SANDBOX_WEBHOOK_SECRET,
    apiBase: e.STRIPE_API_BASE ?? (options.sandbox ? `${options.publicUrl}/sandbox/stripe` : undefined),
  };
}
