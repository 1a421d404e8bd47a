import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { SA_STATUS } from '../../workflows/contract';
import { freePort } from '../support/ports';
import { eventually, startStack, type Stack } from '../support/stack';
import { launchChromium } from '../support/chromium';

/**
 * The Temporal Web UI as an engineer uses it: a dev server with its UI, one completed verification, a filter on
 * VerificationStatus, the run opened, a screenshot saved to test/artifacts/temporal-ui-*.png (README "Temporal UI").
 * Debian's chromium driven by playwright-core; a missing browser fails the test.
 */
const ARTIFACTS = join(__dirname, '..', 'artifacts');

let server: DevServer;
let stack: Stack;
let browser: Browser;
beforeAll(async () => {
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  server = await startDevServer({
    cli: process.env.TEMPORAL_CLI,
    pathEnv: process.env.PATH,
    port,
    uiPort,
    codecEndpoint: `http://127.0.0.1:${apiPort}/codec`,
  });
  stack = await startStack({ TEMPORAL_ADDRESS: server.address, TEMPORAL_UI_PORT: String(uiPort) }, apiPort);
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await server?.stop();
});

test('filter by VerificationStatus, open the run; payloads encrypted in history, decoded in the UI via the codec server', async () => {
  const to = '+15005550001';
  const started = await stack.http().post('/v1/verifications/phone').send({ to, brand: 'UIDemo' });
  const id = started.body.id as string;
  await eventually(async () => (await stack.http().get(`/v1/verifications/${id}`)).body.channel === 'sms');
  const code = await eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { channel: string; code: string }[]).filter((e) => e.channel === 'sms').pop()?.code;
  });
  const checked = await stack.http().post(`/v1/verifications/${id}/check`).send({ code });
  expect(checked.body).toMatchObject({ status: 'completed' });

  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await eventually(async () => {
    const wf = await stack.client.workflow.getHandle(id).describe();
    return wf.typedSearchAttributes.get(SA_STATUS) === 'completed';
  });
  const query = encodeURIComponent('VerificationStatus="completed"');
  const link = page.locator('a', { hasText: id });
  const listUrl = `${server.uiUrl}/namespaces/default/workflows?query=${query}`;
  await eventually(async () => {
    await page.goto(listUrl, { waitUntil: 'networkidle' });
    return (await link.count()) > 0;
  }, 60_000);
  await page.screenshot({ path: join(ARTIFACTS, 'temporal-ui-list.png'), fullPage: true });

  await link.first().click();
  await page.waitForURL(/\/workflows\/phone-/);
  // The Input panel shows the number only because the browser decoded it through our codec server.
  await page.getByText('+15005550001').first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: join(ARTIFACTS, 'temporal-ui-run.png'), fullPage: true });
  await page.getByText('User Metadata').first().click();
  await eventually(async () => {
    // The UI renders summaries and details (markdown) inside iframes.
    const texts = await Promise.all(
      page.frames().map((f) =>
        f
          .locator('body')
          .innerText()
          .catch(() => ''),
      ),
    );
    const text = texts.join('\n');
    return (
      text.includes('Phone verification for UIDemo via silent_auth → sms → voice') &&
      text.includes('completed (verified)')
    );
  }, 30_000);
  await page.screenshot({ path: join(ARTIFACTS, 'temporal-ui-summary.png'), fullPage: true });

  // What the server stores: no phone number anywhere in the raw history.
  const raw = new Client({ connection: stack.client.connection });
  const history = await raw.workflow.getHandle(id).fetchHistory();
  expect(JSON.stringify(history)).not.toContain('15005550001');
  expect(JSON.stringify(history)).toContain(Buffer.from('binary/encrypted').toString('base64'));
});
