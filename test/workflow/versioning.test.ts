import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { temporal } from '@temporalio/proto';
import { findTemporalCli } from '../../src/temporal/dev-server';
import { eventually, startStack, type Stack } from '../support/stack';

/**
 * Worker Deployment versioning from config (TEMPORAL_DEPLOYMENT_NAME + TEMPORAL_BUILD_ID): once the version is made
 * current, a new verification is pinned to the build that started it, so a later build cannot change its commands.
 */
const run = promisify(execFile);
let stack: Stack;
const deploymentName = `verifyflow-${randomUUID().slice(0, 8)}`;
beforeAll(async () => {
  stack = await startStack({ TEMPORAL_DEPLOYMENT_NAME: deploymentName, TEMPORAL_BUILD_ID: 'build-1' });
});
afterAll(async () => {
  await stack?.stop();
});

test('a verification started on a versioned worker is pinned to its build', async () => {
  const cli = findTemporalCli(process.env.TEMPORAL_CLI, process.env.PATH);
  // The version exists once the worker has polled; then it can become the deployment's current version.
  await eventually(async () => {
    await run(cli, [
      'worker',
      'deployment',
      'set-current-version',
      '--deployment-name',
      deploymentName,
      '--build-id',
      'build-1',
      '--yes',
      '--address',
      process.env.TEST_TEMPORAL_ADDRESS!,
    ]);
    return true;
  }, 30_000);
  const res = await stack
    .http()
    .post('/v1/verifications/phone')
    .send({ to: '+14155550199', brand: 'Pinned', channels: [{ channel: 'sms' }] });
  expect(res.status).toBe(201);
  const info = await eventually(async () => {
    const d = await stack.client.workflow.getHandle(res.body.id).describe();
    return d.raw.workflowExecutionInfo?.versioningInfo?.behavior
      ? d.raw.workflowExecutionInfo.versioningInfo
      : undefined;
  });
  expect(info.behavior).toBe(temporal.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED);
  expect(info.deploymentVersion).toMatchObject({ deploymentName, buildId: 'build-1' });
  await stack.http().post(`/v1/verifications/${res.body.id}/cancel`).send({});
});
