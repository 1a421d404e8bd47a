import { createAbuseGuard } from '../../src/auth/abuse-guard';
import { loadConfig } from '../../src/config/config';
import { createWorker } from '../../src/temporal/worker';
import { runMain } from '../../src/run-main';

/**
 * Build B's worker for the rolling-deploy test: `dist/src/worker.js` with the workflows of ./workflows (a changed
 * phoneVerification behind `patched`). Same configuration (TEMPORAL_DEPLOYMENT_NAME, TEMPORAL_BUILD_ID, …).
 */
runMain(async (lifecycle) => {
  const config = loadConfig();
  const guard = createAbuseGuard(config.limits);
  const { worker, connection } = await createWorker(config, guard, { workflowsPath: require.resolve('./workflows') });
  const running = worker.run();
  void running.then(
    () => {
      if (!lifecycle.stopping) lifecycle.fail('the worker stopped on its own');
    },
    (err: unknown) => lifecycle.fail(`the worker failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  console.log(`verifyflow worker on task queue ${config.taskQueue} (rolling-deploy build B workflows)`);
  return async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
    await guard.close();
  };
});
