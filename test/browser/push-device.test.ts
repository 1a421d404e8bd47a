import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import type { PushVerificationState } from '../../workflows/contract';
import { eventually, startStack, type Stack } from '../support/stack';
import { launchChromium } from '../support/chromium';

/**
 * A person trying push in the sandbox: the device page enrolls a factor (access token from the app, WebCrypto ES256
 * key, factor created and verified at the emulator), a push verification starts over REST, the challenge appears on
 * the page, Approve is clicked, and the verification completes. Debian's chromium driven by playwright-core; a
 * missing browser fails the test (install it with `apt-get install -y chromium`).
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

test('enroll on the device page, start a push verification, click Approve, see it completed', async () => {
  const identity = `user-${randomUUID()}`;
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${stack.baseUrl}/sandbox/twilio/device/${identity}`);
  await page.getByRole('button', { name: 'Enroll this device' }).click();
  await page.locator('#status', { hasText: 'verified' }).waitFor({ timeout: 30_000 });
  await eventually(async () => (await stack.http().get(`/v1/push/enrollments/${identity}`)).status === 200, 30_000);

  const started = await stack
    .http()
    .post('/v1/verifications/push')
    .send({ identity, message: 'Log in to Acme from the browser test?', fields: [{ label: 'City', value: 'Lisbon' }] });
  expect(started.status).toBe(201);
  const id = (started.body as PushVerificationState).id;

  const card = page.locator('.challenge', { hasText: 'Log in to Acme from the browser test?' });
  await card.waitFor({ timeout: 30_000 });
  expect(await card.locator('dd').textContent()).toBe('Lisbon');
  await card.getByRole('button', { name: 'Approve' }).click();

  const done = await eventually(async () => {
    const s = (await stack.http().get(`/v1/verifications/${id}`)).body as PushVerificationState;
    return s.status === 'completed' && s;
  }, 30_000);
  expect(done).toMatchObject({ reason: 'verified', kind: 'push' });
  await page.locator('.challenge').first().waitFor({ state: 'detached', timeout: 30_000 });
  expect(errors).toEqual([]);
  await page.close();
});
