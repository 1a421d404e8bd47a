import { createAbuseGuard } from './auth/abuse-guard';
import { loadConfig } from './config/config';
import { createWorker } from './temporal/worker';
import { runMain } from './run-main';

/** The worker process (stateless; scale it horizontally). `npm run start:worker`. */
runMain(async () => {
  const config = loadConfig();
  const guard = createAbuseGuard(config.limits);
  const { worker, connection } = await createWorker(config, guard);
  const running = worker.run();
  console.log(`verifyflow worker on task queue ${config.taskQueue}`);
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
    await guard.close();
  };
});
