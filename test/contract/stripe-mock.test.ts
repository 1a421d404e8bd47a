import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import Stripe from 'stripe';
import { createStripeClient, StripeIdentityAdapter } from '../../providers/stripe/identity';
import { freePort } from '../support/ports';

/**
 * Our Stripe adapter against stripe-mock, Stripe's official API mock (driven by Stripe's OpenAPI spec, it answers
 * 400 to any request the real API would refuse as malformed). Every call the adapter makes — create with metadata,
 * options and an idempotency key, retrieve with expand, cancel, redact — must pass its validation.
 *
 * The binary: STRIPE_MOCK_BIN, else `stripe-mock` on PATH or in $GOPATH/bin. Install it with
 * `GOFLAGS=-mod=mod go install github.com/stripe/stripe-mock@latest`. A missing binary fails this test.
 */
const INSTALL = 'GOFLAGS=-mod=mod go install github.com/stripe/stripe-mock@latest';

function findStripeMock(): string | undefined {
  if (process.env.STRIPE_MOCK_BIN)
    return existsSync(process.env.STRIPE_MOCK_BIN) ? process.env.STRIPE_MOCK_BIN : undefined;
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  dirs.push(join(process.env.GOPATH ?? join(process.env.HOME ?? '', 'go'), 'bin'));
  return dirs.map((d) => join(d, 'stripe-mock')).find((p) => existsSync(p));
}

let mock: ChildProcess | undefined;
let apiBase = '';
let output = '';
const binary = findStripeMock();

beforeAll(async () => {
  if (!binary) {
    // Fail every test of this file (no skipping): the contract is not proven without the real peer.
    throw new Error(
      `stripe-mock not found: install it with \`${INSTALL}\` (binary in $(go env GOPATH)/bin) ` +
        'and put it on PATH or set STRIPE_MOCK_BIN to its path',
    );
  }
  const port = await freePort();
  apiBase = `http://127.0.0.1:${port}`;
  mock = spawn(binary, ['-http-addr', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  mock.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  mock.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${apiBase}/v1/identity/verification_sessions/vs_ping`, {
        headers: { authorization: 'Bearer sk_test_123' },
      });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || mock.exitCode !== null) {
      throw new Error(`stripe-mock did not start on ${apiBase}: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}, 40_000);

afterAll(() => {
  mock?.kill('SIGTERM');
});

describe('StripeIdentityAdapter against stripe-mock', () => {
  const adapter = () => new StripeIdentityAdapter({ secretKey: 'sk_test_123', apiBase });

  test('create with metadata, every document option, return_url and an idempotency key is a valid request', async () => {
    const session = await adapter().createSession({
      type: 'document',
      options: {
        allowedTypes: ['passport', 'driving_license', 'id_card'],
        requireLiveCapture: true,
        requireMatchingSelfie: true,
        requireIdNumber: false,
      },
      returnUrl: 'https://app.example/identity/done',
      workflowId: 'identity-user-42',
      reference: 'user-42',
      idempotencyKey: 'identity-user-42:run-1:create',
    });
    expect(session.id).toMatch(/^vs_/);
    expect(typeof session.status).toBe('string');
  });

  test('create for an id_number check (no options) is a valid request', async () => {
    const session = await adapter().createSession({
      type: 'id_number',
      workflowId: 'identity-user-43',
      reference: 'user-43',
      idempotencyKey: 'identity-user-43:run-1:create',
    });
    expect(session.id).toMatch(/^vs_/);
  });

  test('retrieve (with and without the verified outputs expanded), client secret, cancel and redact are valid requests', async () => {
    const a = adapter();
    const plain = await a.retrieveSession('vs_123');
    expect(plain.id).toMatch(/^vs_/);
    expect(plain.verifiedOutputs).toBeUndefined();
    const expanded = await a.retrieveSession('vs_123', { expandOutputs: true });
    expect(expanded.verifiedOutputs).toBeDefined();
    expect(await a.clientSecret('vs_123')).toHaveProperty('status');
    expect(await a.cancelSession('vs_123')).toBe(true);
    expect((await a.redactSession('vs_123')).id).toMatch(/^vs_/);
  });

  test('control: stripe-mock does reject a request the real API would (so the passes above mean something)', async () => {
    const stripe = createStripeClient({ secretKey: 'sk_test_123', apiBase });
    const err = await stripe.identity.verificationSessions
      .create({ type: 'document', nickname: 'x' } as Stripe.Identity.VerificationSessionCreateParams)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect((err as { statusCode: number }).statusCode).toBe(400);
  });
});
