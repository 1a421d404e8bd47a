import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { IdentityVerificationState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';
import { launchChromium } from '../support/chromium';

/**
 * A person on the sandbox's hosted Stripe Identity page: the app starts an identity verification and fetches the
 * session URL (client-secret endpoint), the page shows the outcomes, the person clicks "document expired", gets a new
 * URL for the same session, clicks "verified", and the verification completes after one retry. Debian's chromium
 * driven by playwright-core; a missing browser fails the test (install it with `apt-get install -y chromium`).
 */

let stack: Stack;
let browser: Browser;
beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const stateOf = async (id: string) =>
  (await stack.http().get(`/v1/verifications/${id}`)).body as IdentityVerificationState;
const sessionUrl = async (id: string) =>
  ((await stack.http().post(`/v1/verifications/${id}/client-secret`)).body as { url: string }).url;

test('the hosted page: document expired, then verified on the same session → completed', async () => {
  const started = await stack
    .http()
    .post('/v1/verifications/identity')
    .send({ reference: `browser-${randomUUID().slice(0, 8)}`, type: 'document' });
  expect(started.status).toBe(201);
  const id = (started.body as IdentityVerificationState).id;
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));

  await page.goto(await sessionUrl(id));
  await page.getByRole('button', { name: 'document expired' }).click();
  await page.getByText('last error document_expired').waitFor({ timeout: 30_000 });
  await eventually(async () => (await stateOf(id)).attempts === 1, 30_000);

  await page.goto(await sessionUrl(id));
  await page.getByRole('button', { name: 'verified', exact: true }).click();
  const done = await eventually(async () => {
    const s = await stateOf(id);
    return s.status === 'completed' && s;
  }, 30_000);
  expect(done).toMatchObject({ reason: 'verified', attempts: 1 });
  await page.getByText('verified', { exact: true }).waitFor({ timeout: 30_000 });
  expect(errors).toEqual([]);
  await page.close();
});
