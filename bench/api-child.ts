import 'reflect-metadata';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { loadConfig } from '../src/config/config';
import { createApi } from '../src/app';
import { createAbuseGuard } from '../src/auth/abuse-guard';
import { connectClient } from '../src/temporal/client';
import { runMain } from '../src/run-main';
import { noClientCalls } from './lib/client-calls';

/**
 * The API process exactly as `dist/src/main.js` builds it (same config, client, `createApi`), plus a client
 * interceptor that counts the Temporal calls it makes; the benchmark asks for the counts over IPC. Used by the bench
 * and chaos runs so that client-side actions (queries above all) are counted, not assumed.
 */
runMain(async () => {
  const config = loadConfig();
  const client = await connectClient(config);
  let calls = noClientCalls();
  const counter: WorkflowClientInterceptor = {
    async startWithDetails(input, next) {
      calls.start++;
      return next(input);
    },
    async signal(input, next) {
      calls.signal++;
      return next(input);
    },
    async query(input, next) {
      calls.query++;
      const id = input.workflowExecution.workflowId;
      calls.queriesByWorkflow[id] = (calls.queriesByWorkflow[id] ?? 0) + 1;
      return next(input);
    },
    async startUpdate(input, next) {
      calls.update++;
      return next(input);
    },
    async signalWithStart(input, next) {
      calls.signalWithStart++;
      return next(input);
    },
    async startUpdateWithStart(input, next) {
      calls.updateWithStart++;
      return next(input);
    },
  };
  // The client reads its interceptor list on every call: appending keeps whatever connectClient configured.
  const interceptors = client.workflow.options.interceptors;
  if (!Array.isArray(interceptors)) throw new Error('unexpected client interceptor configuration');
  (interceptors as WorkflowClientInterceptor[]).push(counter);

  const guard = createAbuseGuard(config.limits);
  const { app } = await createApi(config, client, guard);
  await app.listen(config.port, config.host);
  process.on('message', (message) => {
    if (message === 'calls') process.send?.({ ...calls });
    if (message === 'reset') {
      calls = noClientCalls();
      process.send?.('ok');
    }
  });
  console.log(`bench API on ${config.publicUrl}`);
  return async () => {
    await app.close();
    await guard.close();
  };
});
