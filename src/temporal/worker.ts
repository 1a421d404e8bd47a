import { NativeConnection, Worker } from '@temporalio/worker';
import type { AppConfig } from '../config/config';
import { VerificationPlugin } from './plugin';

/**
 * Builds the verifyflow worker from config: a NativeConnection from envconfig and our VerificationPlugin — the same
 * plugin a platform team puts in its own worker. The caller runs it (`worker.run()`) and owns the connection.
 */
export async function createWorker(
  config: AppConfig,
  overrides: { connection?: NativeConnection; taskQueue?: string } = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection =
    overrides.connection ?? (await NativeConnection.connect(config.temporal.connect.connectionOptions));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.connect.namespace ?? 'default',
    taskQueue: overrides.taskQueue ?? config.taskQueue,
    plugins: [new VerificationPlugin({ vonage: config.vonage })],
    ...(config.worker.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.worker.maxCachedWorkflows } : {}),
  });
  return { worker, connection };
}
