import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { Authenticator, jwtClientId } from '../../src/auth/authenticator';
import { loadAuthConfig } from '../../src/config/auth-config';
import { freePort } from '../support/ports';
import { startStack, type Stack } from '../support/stack';

/**
 * API client authentication: API keys (hashed, constant-time) and JWT bearer tokens verified against a JWKS the test
 * serves itself on loopback, as an identity provider's would be.
 */
const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'https://verifyflow.example.test';
let jwks: Server;
let jwksUrl: string;
let signingKey: CryptoKey;
let otherKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey as CryptoKey;
  otherKey = (await generateKeyPair('ES256')).privateKey as CryptoKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const port = await freePort();
  jwks = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(port, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${port}/.well-known/jwks.json`;
});
afterAll(async () => {
  await new Promise((resolve) => jwks?.close(resolve));
});

const token = (
  claims: Record<string, unknown>,
  options: { key?: CryptoKey; exp?: number | null; iss?: string; aud?: string } = {},
) => {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(options.iss ?? ISSUER)
    .setAudience(options.aud ?? AUDIENCE)
    .setIssuedAt();
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 300);
  return jwt.sign(options.key ?? signingKey);
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('API keys', () => {
  const auth = new Authenticator(
    loadAuthConfig(
      { API_KEYS: `acme:sha256:${sha('s3cret-acme-key')},beta:sha256:${sha('beta-key-1')}` },
      { sandbox: false },
    ),
  );

  test('a configured key names its client; anything else is refused', async () => {
    expect(await auth.authenticate('Bearer s3cret-acme-key')).toEqual({ client: 'acme', via: 'api_key' });
    expect(await auth.authenticate('bearer beta-key-1')).toEqual({ client: 'beta', via: 'api_key' });
    expect(await auth.authenticate(undefined)).toEqual({ error: 'missing' });
    expect(await auth.authenticate('Bearer wrong')).toMatchObject({ error: 'invalid' });
    expect(await auth.authenticate('Basic czNjcmV0')).toMatchObject({ error: 'invalid' });
    expect(await auth.authenticate(`Bearer sha256:${sha('s3cret-acme-key')}`)).toMatchObject({ error: 'invalid' });
  });

  test('config: hashed keys only outside sandbox; the sandbox test client only while no key is configured', () => {
    expect(() => loadAuthConfig({ API_KEYS: 'acme:plain-secret-key' }, { sandbox: false })).toThrow(
      /API_KEYS: the key of client acme must be sha256:<64 hex digits>.*sandbox mode only/,
    );
    expect(() => loadAuthConfig({}, { sandbox: false })).toThrow(
      /no API clients: set API_KEYS .*CLIENTS_FILE.*AUTH_JWKS_URL/,
    );
    expect(() => loadAuthConfig({ API_KEYS: 'ac-me:sha256:' + 'a'.repeat(64) }, { sandbox: false })).toThrow(
      /API_KEYS/,
    );
    expect(() => loadAuthConfig({ API_KEYS: 'temporal:sha256:' + 'a'.repeat(64) }, { sandbox: false })).toThrow(
      /reserved/,
    );
    const sandbox = loadAuthConfig({}, { sandbox: true });
    expect(sandbox.keys.map((k) => k.client)).toEqual(['sandbox']);
    const configured = loadAuthConfig({ API_KEYS: 'mine:my-plain-sandbox-key' }, { sandbox: true });
    expect(configured.keys.map((k) => k.client)).toEqual(['mine']);
    expect(() => loadAuthConfig({ AUTH_JWKS_URL: jwksUrl }, { sandbox: false })).toThrow(/AUTH_ISSUER is required/);
    expect(() =>
      loadAuthConfig(
        { AUTH_JWKS_URL: 'http://idp.example/jwks', AUTH_ISSUER: 'x', AUTH_AUDIENCE: 'y' },
        { sandbox: false },
      ),
    ).toThrow(/AUTH_JWKS_URL must be https/);
  });
});

describe('JWT bearer tokens (jose, against the JWKS)', () => {
  let auth: Authenticator;
  beforeAll(() => {
    auth = new Authenticator(
      loadAuthConfig({ AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE }, { sandbox: false }),
    );
  });

  test('a valid client-credentials token names its client (azp, else client_id, else sub)', async () => {
    expect(await auth.authenticate(`Bearer ${await token({ azp: 'acmeProd' })}`)).toEqual({
      client: 'acmeProd',
      via: 'jwt',
    });
    expect(await auth.authenticate(`Bearer ${await token({ client_id: 'beta' })}`)).toEqual({
      client: 'beta',
      via: 'jwt',
    });
    expect(await auth.authenticate(`Bearer ${await token({ sub: 'gamma@clients' })}`)).toEqual({
      client: 'gammaclients',
      via: 'jwt',
    });
  });

  test('refused: expired, no exp, another issuer or audience, another key, an HMAC algorithm', async () => {
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      await token({ azp: 'acme' }, { exp: now - 120 }),
      await token({ azp: 'acme' }, { exp: null }),
      await token({ azp: 'acme' }, { iss: 'https://evil.example/' }),
      await token({ azp: 'acme' }, { aud: 'someone-else' }),
      await token({ azp: 'acme' }, { key: otherKey }),
      await new SignJWT({ azp: 'acme' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime(now + 300)
        .sign(new TextEncoder().encode('a-shared-secret-anyone-could-know')),
    ];
    for (const t of bad) expect(await auth.authenticate(`Bearer ${t}`)).toMatchObject({ error: 'invalid' });
  });

  test('up to 60 s of clock skew is tolerated on exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await auth.authenticate(`Bearer ${await token({ azp: 'acme' }, { exp: now - 30 })}`)).toMatchObject({
      client: 'acme',
    });
  });

  test('client ids are letters and digits: a GUID loses its dashes; nothing usable → refused', () => {
    expect(jwtClientId({ azp: '1f2a3b4c-5d6e-7f80-9a0b-1c2d3e4f5a6b' })).toBe('1f2a3b4c5d6e7f809a0b1c2d3e4f5a6b');
    expect(jwtClientId({ sub: '---' })).toBeUndefined();
    expect(jwtClientId({ azp: 'x'.repeat(40) })).toBeUndefined();
    expect(jwtClientId({ azp: 'temporal' })).toBeUndefined();
  });
});

describe('over HTTP', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a JWT client starts and reads its own verification; the start records it as the owner', async () => {
    const bearer = `Bearer ${await token({ azp: 'jwtclient' })}`;
    const started = await stack
      .anon()
      .post('/v1/verifications/phone')
      .set('Authorization', bearer)
      .send({ to: '+14155550142', brand: 'Acme', channels: [{ channel: 'sms' }] });
    expect(started.status).toBe(201);
    expect(started.body.id).toMatch(/^phone-jwtclient-[0-9a-f]{20}$/);
    const read = await stack.anon().get(`/v1/verifications/${started.body.id}`).set('Authorization', bearer);
    expect(read.body).toMatchObject({ client: 'jwtclient' });
    const other = `Bearer ${await token({ azp: 'someoneelse' })}`;
    expect((await stack.anon().get(`/v1/verifications/${started.body.id}`).set('Authorization', other)).status).toBe(
      404,
    );
    await stack.anon().post(`/v1/verifications/${started.body.id}/cancel`).set('Authorization', bearer).send({});
  });

  test('no credential → 401 with WWW-Authenticate: Bearer; a bad one → 401 invalid_token', async () => {
    const none = await stack.anon().get('/v1/verifications/phone-x-y');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="verifyflow"');
    const bad = await stack.anon().get('/v1/verifications/phone-x-y').set('Authorization', 'Bearer a.b.c');
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer realm="verifyflow", error="invalid_token"');
  });
});
