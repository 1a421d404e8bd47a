import { SANDBOX_CLIENT_KEY } from '../../src/config/auth-config';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/**
 * A Verify Push "device" for tests, doing over HTTP what the sandbox device page does in the browser: gets an access
 * token brokered by the app (the platform's backend asks for it with its API key), creates its factor with an ES256
 * key, verifies it, and answers challenges with JWTs signed by that key (Basic `token:<jwt>`).
 */
export class PushDevice {
  readonly privateKey: KeyObject;
  readonly publicKeySpki: string;
  serviceSid?: string;
  factorSid?: string;
  /** The Twilio entity the token was brokered for: `<client>-<identity>`. */
  entityIdentity?: string;
  /** Every bearer secret this device has sent (the brokered access token, its signed answers): none may be logged. */
  readonly tokensSent: string[] = [];

  constructor(
    private readonly baseUrl: string,
    readonly identity: string,
    private readonly authorization = `Bearer ${SANDBOX_CLIENT_KEY}`,
  ) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    this.publicKeySpki = pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  }

  private get entity(): string {
    return `${this.baseUrl}/sandbox/twilio/v2/Services/${this.serviceSid}/Entities/${this.entityIdentity}`;
  }

  /** A fresh device token for the factor. */
  deviceToken(): string {
    const enc = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${enc({ alg: 'ES256', typ: 'JWT', kid: this.factorSid })}.${enc({ sub: this.factorSid, iat: Math.floor(Date.now() / 1000) })}`;
    const sig = sign('sha256', Buffer.from(head), { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return `${head}.${sig.toString('base64url')}`;
  }

  private async verifyApi(method: string, url: string, token: string, params?: Record<string, string>) {
    this.tokensSent.push(token);
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`token:${token}`).toString('base64')}`,
        ...(params ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: params ? new URLSearchParams(params).toString() : undefined,
    });
    const body = (await res.json()) as Record<string, unknown>;
    if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${JSON.stringify(body)}`);
    return body;
  }

  /** Access token from the app, factor created, factor verified (factor.created and factor.verified webhooks). */
  async enroll(): Promise<string> {
    const res = await fetch(`${this.baseUrl}/v1/push/access-tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.authorization },
      body: JSON.stringify({ identity: this.identity }),
    });
    const brokered = (await res.json()) as { token: string; serviceSid: string; identity: string };
    if (res.status !== 201) throw new Error(`access token: HTTP ${res.status} ${JSON.stringify(brokered)}`);
    this.serviceSid = brokered.serviceSid;
    this.entityIdentity = brokered.identity;
    const factor = await this.verifyApi('POST', `${this.entity}/Factors`, brokered.token, {
      FriendlyName: 'test device',
      FactorType: 'push',
      'Binding.Alg': 'ES256',
      'Binding.PublicKey': this.publicKeySpki,
      'Config.NotificationPlatform': 'none',
    });
    this.factorSid = String(factor.sid);
    await this.verifyApi('POST', `${this.entity}/Factors/${this.factorSid}`, this.deviceToken(), {});
    return this.factorSid;
  }

  /** Pending challenges of this device's factor, newest first. */
  async pending(): Promise<{ sid: string; details: { message: string } }[]> {
    const page = await this.verifyApi(
      'GET',
      `${this.entity}/Challenges?Status=pending&FactorSid=${this.factorSid}`,
      this.deviceToken(),
    );
    return page.challenges as { sid: string; details: { message: string } }[];
  }

  /** Approves or denies a challenge, as the user would on the device. */
  async answer(challengeSid: string, status: 'approved' | 'denied'): Promise<void> {
    await this.verifyApi('POST', `${this.entity}/Challenges/${challengeSid}`, this.deviceToken(), { Status: status });
  }
}
