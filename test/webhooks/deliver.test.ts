import { ServiceUnavailableException, type Logger } from '@nestjs/common';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { deliver } from '../../src/webhooks/deliver';

const client = { withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn() } as unknown as Client;
const logger = () => ({ warn: jest.fn(), debug: jest.fn(), log: jest.fn(), error: jest.fn() });

test('a callback for a run that is over is acknowledged (false) with a debug line, not a warning', async () => {
  const log = logger();
  const over = () => Promise.reject(new WorkflowNotFoundError('workflow w-1 not found', 'w-1', undefined));
  await expect(deliver(client, log as unknown as Logger, 'vonage completed callback', over)).resolves.toBe(false);
  expect(log.warn).not.toHaveBeenCalled();
  expect(log.debug).toHaveBeenCalledWith('vonage completed callback: the run is over (or gone); acknowledged');
});

test('a delivered callback answers true; Temporal unreachable answers 503 so the provider retries', async () => {
  const log = logger();
  await expect(deliver(client, log as unknown as Logger, 'x', () => Promise.resolve(true))).resolves.toBe(true);
  const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14 });
  await expect(
    deliver(client, log as unknown as Logger, 'x', () => Promise.reject(unavailable)),
  ).rejects.toBeInstanceOf(ServiceUnavailableException);
});
