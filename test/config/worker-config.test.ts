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

test('workflow libraries are shared by default, and the SDK cache size is left alone', () => {
  expect(loadConfig(base).worker).toMatchObject({ shareWorkflowLibraries: true, maxCachedWorkflows: undefined });
});

test('WORKER_SHARE_WORKFLOW_LIBRARIES=false and WORKER_MAX_CACHED_WORKFLOWS are taken', () => {
  const c = loadConfig({ ...base, WORKER_SHARE_WORKFLOW_LIBRARIES: 'false', WORKER_MAX_CACHED_WORKFLOWS: '500' });
  expect(c.worker).toMatchObject({ shareWorkflowLibraries: false, maxCachedWorkflows: 500 });
});

test('a bad value names the variable', () => {
  expect(() => loadConfig({ ...base, WORKER_SHARE_WORKFLOW_LIBRARIES: 'yes' })).toThrow(ConfigError);
  expect(() => loadConfig({ ...base, WORKER_SHARE_WORKFLOW_LIBRARIES: 'yes' })).toThrow(
    /WORKER_SHARE_WORKFLOW_LIBRARIES/,
  );
  expect(() => loadConfig({ ...base, WORKER_MAX_CACHED_WORKFLOWS: '-1' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
});
