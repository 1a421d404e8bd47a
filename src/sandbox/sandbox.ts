import { createPublicKey } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import type { AppConfig } from '../config/config';
import { Outbox, createOutboxRouter } from './outbox';
import { VonageEmulator } from './vonage-emulator';

/** The provider emulators of sandbox mode, mounted into the API app (absent when real credentials are configured). */
export interface Sandbox {
  outbox: Outbox;
  vonage: VonageEmulator;
  close(): void;
}

/**
 * Mounts the sandbox: the Vonage Verify v2 emulator at /sandbox/vonage (the SDK's apiHost) and the outbox at
 * /sandbox/outbox. Callbacks go to this app's /webhooks/vonage, signed like Vonage signs them.
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
  return { outbox, vonage, close: () => vonage.close() };
}
