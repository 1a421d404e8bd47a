/**
 * The bearer token of the Auth0 custom SMS gateway protocol (Auth0's "Configure a custom SMS provider":
 * `gateway_authentication` with method `bearer`): an HS256 JWT with the configured subject and audience. Signed on
 * every call to an HTTP gateway (http-gateways.ts), verified on `POST /sms-gateway` and by the sandbox's gateway.
 */
import { randomUUID } from 'node:crypto';
import { JsonWebTokenError, NotBeforeError, sign, TokenExpiredError, verify, type JwtPayload } from 'jsonwebtoken';

/** `gateway_authentication` of the Auth0 custom SMS gateway (method `bearer`). */
export interface SmsGatewayAuth {
  subject: string;
  audience: string;
  secret: string;
  /** The secret is base64url-encoded (`secret_base64_encoded`): the key is its decoded bytes. */
  secretBase64?: boolean;
}

/** The HMAC key of a gateway secret: its UTF-8 bytes, or its base64url-decoded bytes (`secret_base64_encoded`). */
export function gatewaySecretKey(secret: string, secretBase64 = false): Buffer {
  // Node's base64url decoder also takes the standard alphabet, so either encoding of the secret works.
  return secretBase64 ? Buffer.from(secret, 'base64url') : Buffer.from(secret, 'utf8');
}

/** The longest life a gateway token may have (exp − iat), and the clock skew allowed between its issuer and us. */
export const GATEWAY_TOKEN_MAX_LIFETIME_SECONDS = 300;
export const GATEWAY_TOKEN_CLOCK_SKEW_SECONDS = 60;

/**
 * The bearer token Auth0 puts on every gateway call: an HS256 JWT whose `sub` and `aud` are
 * `gateway_authentication.subject` and `.audience`, signed with its secret. Short-lived: `iat` and `exp` 5 minutes
 * apart at most, as `verifyGatewayToken` requires.
 */
export function signGatewayToken(auth: SmsGatewayAuth, lifetimeSeconds = GATEWAY_TOKEN_MAX_LIFETIME_SECONDS): string {
  return sign({}, gatewaySecretKey(auth.secret, auth.secretBase64), {
    algorithm: 'HS256',
    subject: auth.subject,
    audience: auth.audience,
    expiresIn: lifetimeSeconds,
    jwtid: randomUUID(),
  });
}

/**
 * Verifies the bearer token of a gateway call (`gateway_authentication`): HS256 with the secret, `sub` and
 * `aud` as configured, not expired, and short-lived — it must carry `exp`, and live at most 5 minutes: exp − iat ≤
 * 300 s, and exp at most 300 s (+ 60 s of clock skew) from now, so a token signed once cannot be replayed for long.
 * The reason, when refused, is fit for a 401 body and a log line (it never holds the token).
 */
export function verifyGatewayToken(
  authorization: string | undefined,
  auth: SmsGatewayAuth,
  nowSeconds = Math.floor(Date.now() / 1000),
): { ok: true } | { ok: false; why: string } {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return { ok: false, why: 'missing bearer token' };
  let claims: JwtPayload;
  try {
    claims = verify(token, gatewaySecretKey(auth.secret, auth.secretBase64), {
      algorithms: ['HS256'],
      audience: auth.audience,
      subject: auth.subject,
      clockTolerance: GATEWAY_TOKEN_CLOCK_SKEW_SECONDS,
      clockTimestamp: nowSeconds,
    }) as JwtPayload;
  } catch (err) {
    const why =
      err instanceof TokenExpiredError
        ? 'token expired'
        : err instanceof NotBeforeError
          ? 'token not yet valid'
          : err instanceof JsonWebTokenError && /audience/.test(err.message)
            ? 'wrong audience'
            : err instanceof JsonWebTokenError && /subject/.test(err.message)
              ? 'wrong subject'
              : 'invalid token';
    return { ok: false, why };
  }
  const max = GATEWAY_TOKEN_MAX_LIFETIME_SECONDS;
  if (typeof claims.exp !== 'number') return { ok: false, why: 'token without exp (an expiry is required)' };
  const tooLong =
    (typeof claims.iat === 'number' && claims.exp - claims.iat > max) ||
    claims.exp - nowSeconds > max + GATEWAY_TOKEN_CLOCK_SKEW_SECONDS;
  if (tooLong) return { ok: false, why: `token lives longer than ${max} s` };
  return { ok: true };
}
