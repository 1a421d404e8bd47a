import { loadConfig } from './config/config';
import { createWorker } from './temporal/worker';
import { runMain } from './run-main';

/** The worker process (stateless; scale it horizontally). `npm run start:worker`. */
runMain(async () => {
  const config = loadConfig();
  const { worker, connection } = await createWorker(config);
  const running = worker.run();
  console.log(`verifyflow worker on task queue ${config.taskQueue}`);
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
});
