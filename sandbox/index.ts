import { createPublicKey } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { AppConfig } from '../src/config/config';
import { EventsReceiver } from './events-receiver';
import { Outbox, createOutboxRouter } from './outbox';
import { VonageEmulator } from './vonage-emulator';
import { TwilioVerifyEmulator } from './twilio-verify-emulator';
import { TwilioVerificationsEmulator } from './twilio-verifications-emulator';
import { StripeIdentityEmulator } from './stripe-identity-emulator';
import { SmsGatewayEmulator } from './sms-gateway-emulator';
import { VonageSmsEmulator } from './vonage-sms-emulator';

/** The provider emulators of sandbox mode, mounted into the API app (absent when real credentials are configured). */
export interface Sandbox {
  outbox: Outbox;
  vonage: VonageEmulator;
  /** Twilio Verify Push emulator at /sandbox/twilio (device page at /sandbox/twilio/device/:identity). */
  twilio?: TwilioVerifyEmulator;
  /** Twilio Verify v2 Verifications and VerificationCheck (sms, call, whatsapp, email, sna) at /sandbox/twilio. */
  twilioVerifications?: TwilioVerificationsEmulator;
  /** Stripe Identity emulator at /sandbox/stripe (hosted verification page at /sandbox/stripe/verify/:id). */
  stripe?: StripeIdentityEmulator;
  /** Auth0-style custom SMS gateway at /sandbox/sms-gateway, with /500 and /hang (gateways sandbox, sandbox-500, sandbox-hang). */
  smsGateway?: SmsGatewayEmulator;
  /** Vonage SMS API at /sandbox/vonage-sms, signed delivery receipts to /webhooks/vonage-sms. */
  vonageSms?: VonageSmsEmulator;
  /** A platform's events endpoint at /sandbox/events: verifies Standard Webhooks signatures, keeps what it got. */
  events: EventsReceiver;
  close(): void;
}

/**
 * The one seam between the app and the sandbox: `createApi` calls this in sandbox mode only, and src/ imports nothing
 * else from sandbox/. Mounts the Vonage Verify v2 emulator at /sandbox/vonage (the SDK's apiHost) and the outbox at
 * /sandbox/outbox, the events receiver at /sandbox/events, and each other emulator whose provider is configured for the sandbox. Callbacks go to this app's
 * /webhooks/*, signed like each provider signs them.
 */
export function mountSandbox(app: INestApplication, config: AppConfig): Sandbox {
  const outbox = new Outbox();
  const vonage = new VonageEmulator({
    applicationId: config.vonage.applicationId,
    publicKeyPem: createPublicKey(config.vonage.privateKey).export({ type: 'spki', format: 'pem' }).toString(),
    signatureSecret: config.vonage.signatureSecret,
    callbackUrl: () => `${config.publicUrl}/webhooks/vonage`,
    publicBaseUrl: () => `${config.publicUrl}/sandbox/vonage`,
    outbox,
  });
  app.use('/sandbox/vonage', vonage.router());
  app.use('/sandbox/outbox', createOutboxRouter(outbox));
  const events = new EventsReceiver({
    secrets: () =>
      Object.fromEntries(
        Object.values(config.auth.clients).flatMap((c) => (c.events ? [[c.id, c.events.secret]] : [])),
      ),
  });
  app.use('/sandbox/events', events.router());
  const twilioConfig = config.twilio;
  const twilio = twilioConfig
    ? new TwilioVerifyEmulator({
        accountSid: twilioConfig.accountSid,
        authToken: twilioConfig.authToken,
        serviceSid: twilioConfig.serviceSid,
        webhookUrl: () => twilioConfig.webhookUrl,
      })
    : undefined;
  const twilioVerifications = twilioConfig
    ? new TwilioVerificationsEmulator({
        accountSid: twilioConfig.accountSid,
        authToken: twilioConfig.authToken,
        serviceSid: twilioConfig.serviceSid,
        outbox,
        publicBaseUrl: () => `${config.publicUrl}/sandbox/twilio`,
      })
    : undefined;
  // Before the Push emulator, which answers every other Verify v2 path (its unknown ones with 20404).
  if (twilioVerifications) app.use('/sandbox/twilio', twilioVerifications.router());
  if (twilio) app.use('/sandbox/twilio', twilio.router());
  const stripeConfig = config.stripe;
  const stripe = stripeConfig
    ? new StripeIdentityEmulator({
        secretKey: stripeConfig.secretKey,
        webhookSecret: stripeConfig.webhookSecret,
        webhookUrl: () => `${config.publicUrl}/webhooks/stripe`,
        publicBaseUrl: () => `${config.publicUrl}/sandbox/stripe`,
      })
    : undefined;
  if (stripe) app.use('/sandbox/stripe', stripe.router());
  const gatewayAuth = config.sms.gateways.find((g) => g.name === 'sandbox')?.auth;
  const smsGateway = gatewayAuth ? new SmsGatewayEmulator({ auth: gatewayAuth, outbox }) : undefined;
  if (smsGateway) app.use('/sandbox/sms-gateway', smsGateway.router());
  const vonageSmsConfig = config.sms.vonageSms;
  const vonageSms = vonageSmsConfig
    ? new VonageSmsEmulator({
        apiKey: vonageSmsConfig.apiKey,
        apiSecret: vonageSmsConfig.apiSecret,
        signatureSecret: vonageSmsConfig.signatureSecret,
        signatureMethod: vonageSmsConfig.signatureMethod,
        defaultCallbackUrl: () => vonageSmsConfig.callbackUrl,
        outbox,
      })
    : undefined;
  if (vonageSms) app.use('/sandbox/vonage-sms', vonageSms.router());
  return {
    outbox,
    vonage,
    twilio,
    twilioVerifications,
    stripe,
    smsGateway,
    vonageSms,
    events,
    close: () => {
      vonage.close();
      twilio?.close();
      stripe?.close();
      smsGateway?.close();
      vonageSms?.close();
    },
  };
}
