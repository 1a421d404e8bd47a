import { timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { type AuthConfig, sha256 } from '../config/auth-config';

/** The authenticated caller of a `/v1` route: an API client id, and how it proved it. */
export interface ApiCaller {
  client: string;
  via: 'api_key' | 'jwt';
}

/** Why a request was not authenticated: no credential at all, or one that does not check out. */
export type AuthFailure = { error: 'missing' } | { error: 'invalid'; why: string };

/** Asymmetric JWS algorithms only: an HMAC-signed token could be minted by anyone who knows a shared secret. */
const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
/** Clock skew tolerated on `exp`/`nbf`/`iat`. */
const JWT_CLOCK_TOLERANCE_SECONDS = 60;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Turns an `Authorization: Bearer …` header into an API client: a JWT from the platform's identity provider (verified
 * with `jose` against its JWKS: asymmetric algorithms, issuer, audience, `exp` required, 60 s skew) or an API key
 * (SHA-256 compared in constant time with every configured key). Never logs or keeps the credential.
 */
export class Authenticator {
  private readonly jwks?: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly config: AuthConfig) {
    if (config.jwt) {
      this.jwks = createRemoteJWKSet(new URL(config.jwt.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
    }
  }

  async authenticate(authorization: string | undefined): Promise<ApiCaller | AuthFailure> {
    if (!authorization) return { error: 'missing' };
    const token = /^Bearer +([\x21-\x7e]+)$/i.exec(authorization)?.[1];
    if (!token) return { error: 'invalid', why: 'not a Bearer credential' };
    if (this.jwks && COMPACT_JWS.test(token)) return this.verifyJwt(token);
    return this.verifyKey(token);
  }

  private verifyKey(secret: string): ApiCaller | AuthFailure {
    const presented = sha256(secret);
    let client: string | undefined;
    // Every key is compared, found or not, so the time taken does not tell which key (or how much of it) matched.
    for (const key of this.config.keys) {
      if (timingSafeEqual(presented, key.sha256) && client === undefined) client = key.client;
    }
    return client ? { client, via: 'api_key' } : { error: 'invalid', why: 'unknown API key' };
  }

  private async verifyJwt(token: string): Promise<ApiCaller | AuthFailure> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks!, {
        issuer: this.config.jwt!.issuer,
        audience: this.config.jwt!.audience,
        algorithms: JWT_ALGORITHMS,
        clockTolerance: JWT_CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      return { error: 'invalid', why: `token rejected (${(err as { code?: string }).code ?? 'invalid'})` };
    }
    const client = jwtClientId(payload);
    return client
      ? { client, via: 'jwt' }
      : { error: 'invalid', why: 'the token names no usable client (azp, client_id or sub)' };
  }
}

/**
 * The client id of an OAuth 2 client-credentials token: `azp`, else `client_id`, else `sub`, kept to letters and
 * digits (a GUID loses its dashes) — client ids prefix workflow IDs and Twilio identities. Undefined when nothing of
 * 1-32 letters and digits remains.
 */
export function jwtClientId(payload: JWTPayload): string | undefined {
  const claim = [payload.azp, payload.client_id, payload.sub].find((v): v is string => typeof v === 'string' && !!v);
  const id = claim?.replace(/[^A-Za-z0-9]/g, '');
  return id && id.length <= 32 && id !== 'temporal' ? id : undefined;
}
