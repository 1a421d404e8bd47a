import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config';

/** The worker tuning variables: defaults, values, and errors that name the variable. */
const base = {
  PORT: '3999',
  DATA_DIR: join(tmpdir(), 'verifyflow-test-data'),
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  VERIFYFLOW_SANDBOX: 'true',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

test('workflow libraries are shared by default, the workflow heap is 768 MiB, the cache is left to the heap', () => {
  expect(loadConfig(base).worker).toMatchObject({
    shareWorkflowLibraries: true,
    maxCachedWorkflows: undefined,
    workflowHeapMiB: 768,
  });
  expect(loadConfig({ ...base, WORKER_WORKFLOW_HEAP_MIB: '0' }).worker.workflowHeapMiB).toBe(0);
  expect(loadConfig({ ...base, WORKER_WORKFLOW_HEAP_MIB: '1024' }).worker.workflowHeapMiB).toBe(1024);
});

test('the worker knows the NODE_OPTIONS it was started with (a heap size set there stands)', () => {
  expect(loadConfig(base).worker.nodeOptions).toBeUndefined();
  expect(loadConfig({ ...base, NODE_OPTIONS: '--max-old-space-size=512' }).worker.nodeOptions).toBe(
    '--max-old-space-size=512',
  );
});

test('WORKER_SHARE_WORKFLOW_LIBRARIES=false and WORKER_MAX_CACHED_WORKFLOWS are taken', () => {
  const c = loadConfig({ ...base, WORKER_SHARE_WORKFLOW_LIBRARIES: 'false', WORKER_MAX_CACHED_WORKFLOWS: '500' });
  expect(c.worker).toMatchObject({ shareWorkflowLibraries: false, maxCachedWorkflows: 500 });
});

test('the worker runs the SDK default concurrency unless WORKER_MAX_CONCURRENT_* say otherwise', () => {
  expect(loadConfig(base).worker).toMatchObject({
    maxConcurrentWorkflowTasks: undefined,
    maxConcurrentActivities: undefined,
  });
  const c = loadConfig({ ...base, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '4', WORKER_MAX_CONCURRENT_ACTIVITIES: '20' });
  expect(c.worker).toMatchObject({ maxConcurrentWorkflowTasks: 4, maxConcurrentActivities: 20 });
  expect(() => loadConfig({ ...base, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1' })).toThrow(
    /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be at least 2/,
  );
  expect(() => loadConfig({ ...base, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: 'many' })).toThrow(
    /WORKER_MAX_CONCURRENT_WORKFLOW_TASKS/,
  );
  expect(() => loadConfig({ ...base, WORKER_MAX_CONCURRENT_ACTIVITIES: '0' })).toThrow(
    /WORKER_MAX_CONCURRENT_ACTIVITIES must be at least 1/,
  );
  expect(() => loadConfig({ ...base, WORKER_MAX_CONCURRENT_ACTIVITIES: '2.5' })).toThrow(
    /WORKER_MAX_CONCURRENT_ACTIVITIES must be a whole number/,
  );
});

test('a bad value names the variable', () => {
  expect(() => loadConfig({ ...base, WORKER_SHARE_WORKFLOW_LIBRARIES: 'yes' })).toThrow(ConfigError);
  expect(() => loadConfig({ ...base, WORKER_SHARE_WORKFLOW_LIBRARIES: 'yes' })).toThrow(
    /WORKER_SHARE_WORKFLOW_LIBRARIES/,
  );
  expect(() => loadConfig({ ...base, WORKER_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
  expect(() => loadConfig({ ...base, WORKER_WORKFLOW_HEAP_MIB: '128' })).toThrow(
    /WORKER_WORKFLOW_HEAP_MIB must be 0 \(V8 default\) or at least 256/,
  );
  expect(() => loadConfig({ ...base, WORKER_WORKFLOW_HEAP_MIB: 'lots' })).toThrow(/WORKER_WORKFLOW_HEAP_MIB/);
});
