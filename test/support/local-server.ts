import { generateKeyPairSync } from 'node:crypto';
import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import type express from 'express';

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
