import { createHash, generateKeyPairSync } from 'node:crypto';
import { verifySignature } from '@vonage/jwt';
import { sign } from 'jsonwebtoken';
import {
  normalizeVonageCallback,
  verifyVonageCallback,
  VONAGE_CALLBACK_HANDLING,
} from '../../providers/vonage/verify-callback';

/** Vonage signed callbacks (Vonage Verify v2 API reference): signature, payload hash and the token's date, checked without a server. */
const SECRET = 'a-signature-secret-of-this-test';
const NOW = 1_800_000_000;
const body = Buffer.from(JSON.stringify({ request_id: 'r-1', status: 'completed', client_ref: 'phone-x' }));
const bearer = (claims: Record<string, unknown>, secret = SECRET) => {
  const payload = { payload_hash: createHash('sha256').update(body).digest('hex'), ...claims };
  return `Bearer ${sign(payload, secret, { algorithm: 'HS256', noTimestamp: claims.iat === undefined })}`;
};
const verify = (authorization: string | undefined) => verifyVonageCallback(body, authorization, SECRET, 900, NOW);

test('a fresh token over the exact body is accepted; a little clock skew either way too', () => {
  expect(verify(bearer({ iat: NOW }))).toEqual({ ok: true });
  expect(verify(bearer({ iat: NOW - 899 }))).toEqual({ ok: true });
  expect(verify(bearer({ iat: NOW + 60 }))).toEqual({ ok: true });
});

test.each<[string, string | undefined, string]>([
  ['no Authorization header', undefined, 'missing_token'],
  ['another secret', bearer({ iat: NOW }, 'not-the-signature-secret'), 'bad_signature'],
  [
    'another body',
    bearer({ iat: NOW, payload_hash: createHash('sha256').update('{}').digest('hex') }),
    'payload_hash_mismatch',
  ],
  ['no iat (cannot be dated)', bearer({}), 'stale'],
  ['older than 15 minutes', bearer({ iat: NOW - 901 }), 'stale'],
  ['dated 61 s ahead', bearer({ iat: NOW + 61 }), 'issued_in_future'],
  ['dated 14 minutes ahead (was accepted)', bearer({ iat: NOW + 14 * 60 }), 'issued_in_future'],
  ['dated a year ahead', bearer({ iat: NOW + 365 * 86_400 }), 'issued_in_future'],
])('%s → refused', (_what, authorization, why) => {
  expect(verify(authorization)).toEqual({ ok: false, why });
});

test("the signature is judged as the SDK's verifySignature judges it", () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const payload = { iat: NOW, payload_hash: createHash('sha256').update(body).digest('hex') };
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.`;
  const tokens = {
    'HS256 with the secret': sign(payload, SECRET, { algorithm: 'HS256' }),
    'HS256 with another secret': sign(payload, 'not-the-signature-secret', { algorithm: 'HS256' }),
    'HS512 with the secret': sign(payload, SECRET, { algorithm: 'HS512' }),
    'RS256 with a private key': sign(payload, privateKey, { algorithm: 'RS256' }),
    'alg none': unsigned,
    'not a JWT': 'a.b.c',
  };
  const ours = Object.fromEntries(Object.entries(tokens).map(([k, t]) => [k, verify(`Bearer ${t}`).ok]));
  const sdk = Object.fromEntries(Object.entries(tokens).map(([k, t]) => [k, verifySignature(t, SECRET)]));
  expect(ours).toEqual(sdk);
  expect(ours).toEqual({
    'HS256 with the secret': true,
    'HS256 with another secret': false,
    'HS512 with the secret': false,
    'RS256 with a private key': false,
    'alg none': false,
    'not a JWT': false,
  });
});

describe('normalizing callbacks: every status and type of the Verify v2 callback reference', () => {
  const callback = (extra: Record<string, unknown>) =>
    normalizeVonageCallback({
      request_id: 'r-1',
      type: 'event',
      channel: 'sms',
      triggered_at: '2026-12-03T10:00:00Z',
      ...extra,
    });

  test.each(['failed', 'completed', 'user_rejected', 'expired', 'blocked'])(
    'event %s is signalled with an id stable across redeliveries',
    (status) => {
      expect(callback({ status })).toEqual({
        eventId: `vonage:r-1:sms:${status}`,
        provider: 'vonage',
        ref: 'r-1',
        channel: 'sms',
        status,
        occurredAt: '2026-12-03T10:00:00Z',
      });
    },
  );

  test.each<[string, Record<string, unknown>]>([
    ['a summary callback (it repeats the events)', { type: 'summary', status: 'completed' }],
    ['an unused step of a summary', { status: 'unused' }],
    ['an unknown status', { status: 'rerouted' }],
    ['no request_id', { request_id: undefined, status: 'completed' }],
    ['a channel the contract does not know', { status: 'failed', channel: 'carrier_pigeon' }],
  ])('%s is not signalled', (_what, extra) => {
    expect(callback(extra)).toBeUndefined();
  });

  test.each(['action_pending', 'failed', 'completed', 'user_rejected', 'expired', 'blocked'])(
    'docs/CONTRACT.md says what event %s does',
    (status) => {
      expect(VONAGE_CALLBACK_HANDLING.some((h) => h.callback.startsWith(`\`event\` \`${status}\``))).toBe(true);
    },
  );

  test('action_pending is not signalled: the start response carried its check_url', () => {
    expect(
      callback({
        status: 'action_pending',
        channel: 'silent_auth',
        action: { type: 'check', check_url: 'https://api.nexmo.com/v2/verify/r-1/silent-auth/redirect' },
      }),
    ).toBeUndefined();
  });
});
