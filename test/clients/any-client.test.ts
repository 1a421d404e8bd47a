import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../src/temporal/dev-server';
import { eventually, startStack, TEST_CODEC_KEYS, type Stack } from '../support/stack';
import { uniqueNumber } from '../support/numbers';

/**
 * Clients we did not write drive a verification from the contract alone: the `temporal` CLI (payloads through our
 * codec server) and the Python SDK (`temporalio` from PyPI, with its own AES-GCM codec written from the documented
 * format). They see the same worker, sandbox and outbox as everything else.
 */
const exec = promisify(execFile);
/** Runs a client; when it fails, its stderr (a Python traceback, a CLI error) is in the error message. */
const run = async (file: string, args: string[], options: { timeout: number }) => {
  try {
    return await exec(file, args, { ...options, encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${(err as Error).message}${stderr ? `\n${stderr.split('\n').slice(-20).join('\n')}` : ''}`);
  }
};
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const number = () => uniqueNumber('+1415556');
const outboxCode = (to: string) =>
  eventually(async () => {
    const res = await stack.http().get('/sandbox/outbox').query({ to });
    return (res.body as { code: string }[]).pop()?.code;
  });

test('the temporal CLI alone: workflow start, query getState, update execute checkCode, result', async () => {
  const cli = findTemporalCli(process.env.TEMPORAL_CLI, process.env.PATH);
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const id = `phone-cli-${randomUUID().slice(0, 8)}`;
  const to = number();
  // Payloads are encrypted: the CLI encodes and decodes them through our codec server, as the Web UI does.
  const temporal = (...args: string[]) =>
    run(cli, [...args, '--address', address, '--codec-endpoint', `${stack.baseUrl}/codec`], { timeout: 30_000 });

  await temporal(
    'workflow',
    'start',
    '--type',
    'phoneVerification',
    '--task-queue',
    stack.config.taskQueue,
    '--workflow-id',
    id,
    '--input',
    JSON.stringify({ to, brand: 'CLI', channels: [{ channel: 'sms' }] }),
  );
  const code = await outboxCode(to);
  const query = await temporal('workflow', 'query', '--workflow-id', id, '--name', 'getState', '-o', 'json');
  expect(JSON.parse(query.stdout).queryResult[0]).toMatchObject({ id, status: 'pending', channel: 'sms' });
  const update = await temporal(
    'workflow',
    'update',
    'execute',
    '--workflow-id',
    id,
    '--name',
    'checkCode',
    '--input',
    JSON.stringify({ code }),
    '-o',
    'json',
  );
  expect(JSON.parse(update.stdout)).toMatchObject({ result: { status: 'completed' } });
  const result = await temporal('workflow', 'result', '--workflow-id', id, '-o', 'json');
  expect(JSON.parse(result.stdout)).toMatchObject({ result: { status: 'completed', reason: 'verified' } });
});

test('the Python SDK (temporalio) alone: start, check the outbox code, result', async () => {
  const id = `phone-py-${randomUUID().slice(0, 8)}`;
  const to = number();
  const { stdout } = await run(
    'python3',
    [
      join(__dirname, 'python_client.py'),
      process.env.TEST_TEMPORAL_ADDRESS!,
      stack.config.taskQueue,
      stack.baseUrl,
      id,
      to,
      TEST_CODEC_KEYS,
    ],
    { timeout: 60_000 },
  );
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(result).toMatchObject({ id, kind: 'phone', status: 'completed', reason: 'verified', attemptsLeft: 4 });
});
