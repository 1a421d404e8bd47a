import { log } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type ActivityInterceptorsFactory, type LogEntry, type WorkerOptions } from '@temporalio/worker';
import { VerificationPlugin } from '../../src/temporal/plugin';
import { dropTaskTokenFromLogs } from '../../src/temporal/task-token-interceptor';

/** Activity task tokens are credentials: no log line of our activities (or the SDK's about them) carries one. */
const TASK_TOKEN = Buffer.from('a-task-token-that-completes-this-activity').toString('base64');

const logged = (interceptors: ActivityInterceptorsFactory[]) => {
  const entries: LogEntry[] = [];
  const env = new MockActivityEnvironment(
    { base64TaskToken: TASK_TOKEN, activityType: 'sendCode', attempt: 2 },
    { logger: new DefaultLogger('TRACE', (entry) => entries.push(entry)), interceptors },
  );
  return { env, entries };
};

test('without the interceptor the SDK puts the task token on every activity log line (what was fixed)', async () => {
  const { env, entries } = logged([]);
  await env.run(async () => log.info('vonage request created', { requestId: 'r-1' }));
  expect(entries.find((e) => e.message === 'vonage request created')?.meta).toMatchObject({ taskToken: TASK_TOKEN });
});

test("with it: our lines and the SDK's own (a failed attempt at WARN) keep their attributes, without the token", async () => {
  const { env, entries } = logged([dropTaskTokenFromLogs]);
  await env.run(async () => log.info('vonage request created', { requestId: 'r-1' }));
  await expect(
    env.run(async () => {
      throw new Error('provider outage');
    }),
  ).rejects.toThrow('provider outage');
  const ours = entries.find((e) => e.message === 'vonage request created')!;
  expect(ours.meta).toMatchObject({ requestId: 'r-1', activityType: 'sendCode', attempt: 2 });
  expect(entries.some((e) => e.level === 'WARN' && e.message === 'Activity failed')).toBe(true);
  for (const entry of entries) {
    expect(entry.meta).not.toHaveProperty('taskToken');
    expect(JSON.stringify(entry.meta)).not.toContain(TASK_TOKEN);
  }
});

test("the plugin installs it in every worker it configures, after the host worker's own interceptors", () => {
  const hostInterceptor = () => ({});
  const options = new VerificationPlugin({ deps: {} }).configureWorker({
    taskQueue: 'q',
    interceptors: { activity: [hostInterceptor] },
  } as WorkerOptions);
  expect(options.interceptors?.activity).toEqual([hostInterceptor, dropTaskTokenFromLogs]);
});
