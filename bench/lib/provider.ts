import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { createOutboxRouter, Outbox, type OutboxEntry } from '../../sandbox/outbox';
import { SmsGatewayEmulator } from '../../sandbox/sms-gateway-emulator';
import { VonageEmulator, type VonageEmulatorOptions } from '../../sandbox/vonage-emulator';
import { freePort } from './util';

/** The sandbox outbox, plus a way to be told at once when a message to a number lands (no polling lag in figures). */
export class WatchedOutbox extends Outbox {
  private readonly waiters = new Map<string, (() => void)[]>();
  /** Messages added per destination (digits), never pruned: chaos runs count duplicates with it. */
  readonly sent = new Map<string, number>();

  override add(e: Omit<OutboxEntry, 'at'> & { at?: string }): OutboxEntry {
    const entry = super.add(e);
    const key = e.to.replace(/\D/g, '');
    this.sent.set(key, (this.sent.get(key) ?? 0) + 1);
    for (const wake of this.waiters.get(key) ?? []) wake();
    this.waiters.delete(key);
    return entry;
  }

  /** Resolves once `to` has received more than `already` messages (or after `timeoutMs`). */
  async waitFor(to: string, already = 0, timeoutMs = 60_000): Promise<void> {
    const key = to.replace(/\D/g, '');
    if ((this.sent.get(key) ?? 0) > already) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const list = this.waiters.get(key) ?? [];
      list.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.waiters.set(key, list);
    });
  }
}

/**
 * The provider side of a benchmark or chaos run, in the bench process and outside the API: the Vonage emulator and
 * the sandbox outbox on their own port. The API and worker run in "real provider" mode against it (VONAGE_API_HOST),
 * so an API restart does not take the provider (and its pending callback retries) down with it, as in production.
 */
export interface ProviderSandbox {
  url: string;
  /** What VONAGE_API_HOST must be. */
  apiHost: string;
  emulator: VonageEmulator;
  outbox: WatchedOutbox;
  /** An Auth0-style SMS gateway (our own OTP, `sms_gateway` channels), configured as the gateway `bench`. */
  smsGateway: SmsGatewayEmulator;
  /** Chaos: how long the SMS gateway holds its answer after taking a message. */
  smsGatewayReplyDelayMs: number;
  /** SMS_GATEWAYS of the API and worker (and OTP_HMAC_SECRET, which our own codes need). */
  smsEnv: Record<string, string>;
  /** The application's credentials the API and worker are configured with. */
  credentials: { applicationId: string; privateKeyFile: string; signatureSecret: string };
  close(): Promise<void>;
}

export async function startProviderSandbox(
  runDir: string,
  callbackUrl: () => string,
  options: Partial<VonageEmulatorOptions> = {},
): Promise<ProviderSandbox> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const privateKeyFile = join(runDir, 'vonage-private.pem');
  writeFileSync(privateKeyFile, privateKey, { mode: 0o600 });
  const credentials = {
    applicationId: '00000000-0000-4000-8000-0000000000be',
    privateKeyFile,
    signatureSecret: randomBytes(24).toString('hex'),
  };
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const outbox = new WatchedOutbox();
  const emulator = new VonageEmulator({
    applicationId: credentials.applicationId,
    publicKeyPem: publicKey,
    signatureSecret: credentials.signatureSecret,
    callbackUrl,
    publicBaseUrl: () => `${url}/sandbox/vonage`,
    outbox,
    ...options,
  });
  const gatewayAuth = {
    subject: 'urn:verifyflow:bench',
    audience: 'urn:bench-gateway',
    secret: randomBytes(24).toString('hex'),
  };
  const sandbox: { smsGatewayReplyDelayMs: number } = { smsGatewayReplyDelayMs: 0 };
  const smsGateway = new SmsGatewayEmulator({
    auth: gatewayAuth,
    outbox,
    replyDelayMs: () => sandbox.smsGatewayReplyDelayMs,
  });
  const app = express();
  app.use('/sandbox/vonage', emulator.router());
  app.use('/sandbox/sms-gateway', smsGateway.router());
  app.use('/sandbox/outbox', createOutboxRouter(outbox));
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(port, '127.0.0.1', () => resolve(s));
  });
  server.keepAliveTimeout = 30_000;
  return Object.assign(sandbox, {
    url,
    apiHost: `${url}/sandbox/vonage`,
    emulator,
    outbox,
    smsGateway,
    smsEnv: {
      SMS_GATEWAYS: JSON.stringify([{ name: 'bench', url: `${url}/sandbox/sms-gateway`, ...gatewayAuth }]),
      OTP_HMAC_SECRET: randomBytes(32).toString('hex'),
    },
    credentials,
    async close() {
      emulator.close();
      smsGateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
