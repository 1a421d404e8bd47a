import { generateKeyPairSync } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import express from 'express';
import { VonageVerifyAdapter } from '../../providers/vonage/verify';
import type { Outbox } from '../../sandbox/outbox';
import { VonageEmulator } from '../../sandbox/vonage-emulator';

/** An RSA key pair in PEM, as a Vonage application's private key and the public key its emulator checks JWTs with. */
export const rsaKeyPairPem = (): { publicKey: string; privateKey: string } =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

/** An express app listening on a free loopback port. */
export const listen = (app: express.Express): Promise<Server> =>
  new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server));
  });

export const urlOf = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/**
 * The Vonage Verify emulator on a free loopback port (its callbacks go nowhere), and the real adapter against it: what
 * the phone activities' tests drive.
 */
export async function vonageOnLoopback(
  applicationId: string,
  outbox: Outbox,
): Promise<{ emulator: VonageEmulator; vonage: VonageVerifyAdapter; close(): Promise<void> }> {
  const keys = rsaKeyPairPem();
  let baseUrl = '';
  const emulator = new VonageEmulator({
    applicationId,
    publicKeyPem: keys.publicKey,
    signatureSecret: 'sandbox-signature-secret',
    callbackUrl: () => 'http://127.0.0.1:9/unused',
    callbackRetries: 0,
    publicBaseUrl: () => baseUrl,
    outbox,
  });
  const app = express();
  app.use('/sandbox/vonage', emulator.router());
  const server = await listen(app);
  baseUrl = `${urlOf(server)}/sandbox/vonage`;
  return {
    emulator,
    vonage: new VonageVerifyAdapter({ applicationId, privateKey: keys.privateKey, apiHost: baseUrl }),
    async close() {
      emulator.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
