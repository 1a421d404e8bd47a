import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { Vonage } from '@vonage/server-sdk';

/** The credentials `new Vonage(…)` takes: an object with its own auth methods is used as is. */
type VonageCredentials = ConstructorParameters<typeof Vonage>[0];

/** How long a minted application JWT lives (Vonage's default) and how long it is reused before a fresh one. */
export const JWT_TTL_SECONDS = 900;
export const JWT_REUSE_SECONDS = 300;

/**
 * Application-JWT credentials for the Vonage SDK that parse the private key once and reuse a signed token for a few
 * minutes, instead of the SDK's default of parsing the PEM and signing a new RS256 token for every request (≈ 5 ms of
 * CPU each, most of a Vonage call's cost in the worker). A reused token is still well inside its `exp` when sent.
 * Only bearer auth exists here: Verify v2 takes nothing else, and no API key or secret is configured for it.
 */
export class VonageApplicationAuth {
  readonly applicationId: string;
  private readonly key: KeyObject;
  private cached?: { header: string; renewAt: number };
  private minting?: Promise<string>;

  constructor(
    options: { applicationId: string; privateKey: string },
    private readonly now: () => number = Date.now,
  ) {
    this.applicationId = options.applicationId;
    const pem = options.privateKey.includes('-----BEGIN')
      ? options.privateKey
      : readFileSync(options.privateKey, 'utf8');
    this.key = createPrivateKey(pem);
  }

  // Own properties, not prototype methods: the SDK recognises ready-made credentials by `getQueryParams` on the object.
  readonly createBearerHeader = async (): Promise<string> => {
    if (this.cached && this.now() < this.cached.renewAt) return this.cached.header;
    this.minting ??= this.mint().finally(() => (this.minting = undefined));
    return this.minting;
  };

  readonly createBasicHeader = async (): Promise<string> => {
    throw new Error('Vonage: only application JWT auth is configured (no API key and secret)');
  };

  readonly getQueryParams = async (): Promise<never> => {
    throw new Error('Vonage: only application JWT auth is configured (no API key and secret)');
  };

  readonly createSignatureHash = async (): Promise<never> => {
    throw new Error('Vonage: only application JWT auth is configured (no signature secret for requests)');
  };

  /** The credentials object to pass to `new Vonage(…)`. */
  asCredentials(): VonageCredentials {
    return this as unknown as VonageCredentials;
  }

  private async mint(): Promise<string> {
    const issuedAt = Math.floor(this.now() / 1000);
    const token = await new SignJWT({ application_id: this.applicationId })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + JWT_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(this.key);
    const header = `Bearer ${token}`;
    this.cached = { header, renewAt: issuedAt * 1000 + JWT_REUSE_SECONDS * 1000 };
    return header;
  }
}
