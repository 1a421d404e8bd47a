import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { JWT_REUSE_SECONDS, JWT_TTL_SECONDS, VonageApplicationAuth } from '../../providers/vonage/bearer';

/**
 * The Vonage application JWT: RS256 over the application's key with the claims Vonage requires (application_id, iat,
 * exp, jti), minted once and reused for JWT_REUSE_SECONDS, then minted again — never sent within minutes of its exp.
 */
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

test('a signed RS256 token with application_id, iat, exp and jti, verifiable with the public key', async () => {
  const auth = new VonageApplicationAuth({ applicationId: 'app-1', privateKey });
  const header = await auth.createBearerHeader();
  const token = header.replace(/^Bearer /, '');
  const { payload } = await jwtVerify(token, await importSPKI(publicKey, 'RS256'));
  expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'JWT' });
  expect(payload).toMatchObject({ application_id: 'app-1', jti: expect.any(String) });
  expect(payload.exp! - payload.iat!).toBe(JWT_TTL_SECONDS);
});

test('reused until JWT_REUSE_SECONDS have passed, then a new one (new jti); concurrent callers share one mint', async () => {
  let now = 1_800_000_000_000;
  const auth = new VonageApplicationAuth({ applicationId: 'app-1', privateKey }, () => now);
  const [a, b] = await Promise.all([auth.createBearerHeader(), auth.createBearerHeader()]);
  expect(b).toBe(a);
  now += (JWT_REUSE_SECONDS - 1) * 1000;
  expect(await auth.createBearerHeader()).toBe(a);
  now += 1000;
  const renewed = await auth.createBearerHeader();
  expect(renewed).not.toBe(a);
  const jti = (h: string) => decodeJwt(h.replace(/^Bearer /, '')).jti;
  expect(jti(renewed)).not.toBe(jti(a));
  // Still far from its exp whenever it is sent.
  expect(JWT_TTL_SECONDS - JWT_REUSE_SECONDS).toBeGreaterThanOrEqual(300);
});

test('API key and signature auth are refused: only the application JWT is configured', async () => {
  const auth = new VonageApplicationAuth({ applicationId: 'app-1', privateKey });
  await expect(auth.createBasicHeader()).rejects.toThrow(/only application JWT/);
  expect(() => new VonageApplicationAuth({ applicationId: 'app-1', privateKey: 'not a key' })).toThrow();
});
