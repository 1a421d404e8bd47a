import { createHmac } from 'node:crypto';
import { parseForm, routedPushVerificationId, verifyTwilioSignature } from '../../providers/twilio/webhook';
import { PUSH_ROUTING_KEY } from '../../workflows/contract';

/** Twilio webhook parameters: parsed without prototype keys, and signed over exactly what was sent. */
const TOKEN = 'a-twilio-auth-token-of-this-test';
const URL_ = 'https://verify.example.com/webhooks/twilio';

/** Twilio's algorithm, written out: HMAC-SHA1 over the URL and the sorted key‖value pairs, base64. */
const expectedSignature = (pairs: [string, string][]) =>
  createHmac('sha1', TOKEN)
    .update(
      [...pairs]
        .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
        .reduce((acc, [k, v]) => acc + k + v, URL_),
    )
    .digest('base64');

test('__proto__, constructor and prototype are ordinary parameters of a map without prototype', () => {
  const params = parseForm('__proto__=a&constructor=b&constructor=c&prototype=d&type=challenge.approved');
  expect(Object.getPrototypeOf(params)).toBeNull();
  expect(Object.keys(params).sort()).toEqual(['__proto__', 'constructor', 'prototype', 'type']);
  expect(params['__proto__']).toBe('a');
  expect(params.constructor).toEqual(['b', 'c']);
  expect(params.prototype).toBe('d');
  expect(params.toString).toBeUndefined();
  expect(params.hasOwnProperty).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('a');
  expect(({} as Record<string, unknown>).prototype).toBeUndefined();
});

test('a key that names an Object.prototype member never reads the inherited value', () => {
  // With a plain object, `params.toString` was a function: the first value would have been [fn, value].
  expect(parseForm('toString=x&valueOf=y&hasOwnProperty=z')).toEqual(
    Object.assign(Object.create(null), { toString: 'x', valueOf: 'y', hasOwnProperty: 'z' }),
  );
});

test('the signature is checked over the real parameters, these keys included', () => {
  const raw = '__proto__=a&constructor=b&type=challenge.approved&uuid=u-1';
  const pairs: [string, string][] = [
    ['__proto__', 'a'],
    ['constructor', 'b'],
    ['type', 'challenge.approved'],
    ['uuid', 'u-1'],
  ];
  const signature = expectedSignature(pairs);
  expect(verifyTwilioSignature(TOKEN, signature, URL_, parseForm(raw))).toBe(true);
  // Signed without them, or with another value: refused.
  expect(verifyTwilioSignature(TOKEN, expectedSignature(pairs.slice(2)), URL_, parseForm(raw))).toBe(false);
  expect(verifyTwilioSignature(TOKEN, signature, URL_, parseForm(raw.replace('__proto__=a', '__proto__=z')))).toBe(
    false,
  );
});

describe('routedPushVerificationId: the run ID a challenge carries in its hidden details', () => {
  const id = 'push-acme-0123456789abcdef0123';
  test('a push verification ID under the routing key is taken', () => {
    expect(
      routedPushVerificationId({ hidden_details: JSON.stringify({ ip: '10.0.0.1', [PUSH_ROUTING_KEY]: id }) }),
    ).toBe(id);
  });
  test.each([
    ['no hidden details', {}],
    ['hidden details without the key', { hidden_details: JSON.stringify({ ip: '10.0.0.1' }) }],
    ['not JSON', { hidden_details: '{verifyflow_id:' }],
    ['JSON that is no object', { hidden_details: JSON.stringify(id) }],
    [
      'another kind of workflow',
      { hidden_details: JSON.stringify({ [PUSH_ROUTING_KEY]: 'phone-acme-0123456789abcdef' }) },
    ],
    ['an enrollment', { hidden_details: JSON.stringify({ [PUSH_ROUTING_KEY]: 'push-enrollment-acme-user-1' }) }],
    ['not a string', { hidden_details: JSON.stringify({ [PUSH_ROUTING_KEY]: 42 }) }],
  ])('%s: none (found by its ref instead)', (_what, params) => {
    expect(routedPushVerificationId(params as Record<string, string>)).toBeUndefined();
  });
});
