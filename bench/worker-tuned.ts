import { NativeConnection, type WorkerOptions, type WorkerPlugin } from '@temporalio/worker';
import { loadConfig } from '../src/config/config';
import { createWorker } from '../src/temporal/worker';
import { runMain } from '../src/run-main';

/**
 * Modules the workflow bundle imports that are pure libraries (no per-workflow state): loaded once into the reusable
 * V8 context and shared by every workflow instead of being evaluated again for each one (the SDK's
 * `bundlerOptions.preloadModules`). zod and libphonenumber-js's metadata are most of the bundle's evaluation cost.
 * Listed through a module of ours that uses them: a bare `require('zod')` is dropped (`sideEffects: false`).
 */
export const SHARED_WORKFLOW_MODULES = [require.resolve('./workflow-shared-modules')];

/** A worker plugin that adds modules to `bundlerOptions.preloadModules`. */
export class PreloadModulesPlugin implements WorkerPlugin {
  readonly name = 'verifyflow-bench-preload';
  constructor(private readonly modules: string[]) {}

  configureWorker(options: WorkerOptions): WorkerOptions {
    const preloadModules = [...(options.bundlerOptions?.preloadModules ?? []), ...this.modules];
    return { ...options, bundlerOptions: { ...options.bundlerOptions, preloadModules } };
  }
}

/**
 * The verifyflow worker exactly as `dist/src/worker.js` builds it (`createWorker(loadConfig())`), with tuning the
 * benchmark compares before adopting: `--preload a,b` shares those modules across workflows. The plugin rides on
 * the connection (the SDK appends a connection's plugins to every worker that uses it).
 */
runMain(async () => {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--preload');
  const modules = at >= 0 ? argv[at + 1].split(',').filter(Boolean) : SHARED_WORKFLOW_MODULES;
  const config = loadConfig();
  const connection = await NativeConnection.connect({
    ...config.temporal.connect.connectionOptions,
    plugins: [new PreloadModulesPlugin(modules)],
  });
  const { worker } = await createWorker(config, { connection });
  const running = worker.run();
  console.log(`verifyflow worker on task queue ${config.taskQueue} (preloaded: ${modules.join(', ') || 'none'})`);
  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
  };
});
