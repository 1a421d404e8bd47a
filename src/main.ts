import 'reflect-metadata';
import { createAbuseGuard } from './auth/abuse-guard';
import { loadConfig } from './config/config';
import { createApi } from './app';
import { connectClient } from './temporal/client';
import { tracingFromConfig } from './telemetry/tracing';
import { runMain } from './run-main';

/** The API process (stateless; scale it horizontally). `npm run start:api`. */
runMain(async () => {
  const config = loadConfig();
  const tracing = tracingFromConfig(config.telemetry, 'verifyflow-api');
  const client = await connectClient(config, { plugins: tracing ? [tracing.plugin] : [] });
  const guard = createAbuseGuard(config.limits);
  const { app, sandbox } = await createApi(config, client, guard, { tracing });
  await app.listen(config.port, config.host);
  console.log(
    `verifyflow API on ${config.publicUrl} (docs ${config.publicUrl}/docs)${sandbox ? ', sandbox mode' : ''}`,
  );
  return async () => {
    sandbox?.close();
    await app.close();
    await guard.close();
    await tracing?.shutdown();
  };
});
