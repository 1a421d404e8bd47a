import { createAbuseGuard } from './auth/abuse-guard';
import { loadConfig } from './config/config';
import { createWorker } from './temporal/worker';
import { capWorkflowHeap } from './temporal/workflow-heap';
import { tracingFromConfig } from './telemetry/tracing';
import { installWorkerRuntime } from './telemetry/worker-metrics';
import { runMain } from './run-main';

/**
 * The worker process (stateless; scale it horizontally). `npm run start:worker`. If the worker fails, the process
 * exits 1 so its supervisor restarts it.
 */
runMain(async (lifecycle) => {
  const loaded = loadConfig();
  // Before the SDK starts its workflow thread: that thread's heap capped, the cache sized from it (unless configured).
  const heap = capWorkflowHeap(loaded.worker.workflowHeapMiB, {
    execArgv: process.execArgv,
    nodeOptions: loaded.worker.nodeOptions,
  });
  const config = heap
    ? {
        ...loaded,
        worker: { ...loaded.worker, maxCachedWorkflows: loaded.worker.maxCachedWorkflows ?? heap.maxCachedWorkflows },
      }
    : loaded;
  installWorkerRuntime(config.telemetry);
  const tracing = tracingFromConfig(config.telemetry, 'verifyflow-worker');
  const guard = createAbuseGuard(config.limits);
  const { worker, connection } = await createWorker(config, guard, { plugins: tracing ? [tracing.plugin] : [] });
  const running = worker.run();
  void running.then(
    () => {
      if (!lifecycle.stopping) lifecycle.fail('the worker stopped on its own');
    },
    (err: unknown) => lifecycle.fail(`the worker failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  console.log(
    `verifyflow worker on task queue ${config.taskQueue}` +
      (heap ? `, workflow heap ${heap.heapMiB} MiB, cache ${config.worker.maxCachedWorkflows}` : '') +
      (config.telemetry.workerMetricsAddress
        ? `, metrics on http://${config.telemetry.workerMetricsAddress}/metrics`
        : '') +
      (tracing ? ', tracing over OTLP' : ''),
  );
  return async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined); // a failure was reported through lifecycle.fail
    await connection.close();
    await guard.close();
    await tracing?.shutdown();
  };
});
