import { NativeConnection, Worker } from '@temporalio/worker';
import { runMain } from '../../src/run-main';
import { createBareActivities } from './activities';

/**
 * Worker of the bare baseline (a child process of the benchmark, like the verifyflow worker, so their RSS compare):
 * default worker options, its own workflow bundle, the address and task queue from argv.
 */
runMain(async () => {
  const [address, taskQueue] = process.argv.slice(2);
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities: createBareActivities(),
  });
  const running = worker.run();
  console.log(`bare worker on task queue ${taskQueue}`);
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
});
