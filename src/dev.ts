import 'reflect-metadata';
import { join } from 'node:path';
import { createAbuseGuard } from './auth/abuse-guard';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_KEY } from './config/auth-config';
import { loadConfig } from './config/config';
import { createApi } from './app';
import { connectClient } from './temporal/client';
import { startDevServer, type DevServer } from './temporal/dev-server';
import { createWorker } from './temporal/worker';
import { runMain } from './run-main';

/**
 * Everything at once, the embedded default (`npm run dev`): the Temporal dev server (SQLite under DATA_DIR, Web UI)
 * unless TEMPORAL_ADDRESS points elsewhere, the worker, the API and — without provider credentials — the sandbox.
 */
runMain(async () => {
  // One process: the abuse guard may count in memory, and the API and the worker must share that one guard.
  const config = loadConfig(process.env, { singleProcess: true });
  const guard = createAbuseGuard(config.limits);
  let server: DevServer | undefined;
  if (config.temporal.embedded) {
    server = await startDevServer({
      cli: config.temporal.cli,
      pathEnv: config.temporal.pathEnv,
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      dbFile: join(config.dataDir, 'temporal.db'),
      codecEndpoint: `${config.publicUrl}/codec`,
    });
  }
  const client = await connectClient(config);
  const { worker, connection } = await createWorker(config, guard);
  const running = worker.run();
  const { app, sandbox } = await createApi(config, client, guard);
  await app.listen(config.port, config.host);

  console.log(
    [
      '',
      'verifyflow is running',
      `  API            ${config.publicUrl}  (OpenAPI: ${config.publicUrl}/docs)`,
      ...(config.sandbox && config.auth.keys.length === 1 && config.auth.keys[0].client === SANDBOX_CLIENT_ID
        ? [
            `  API key        ${SANDBOX_CLIENT_KEY}  (sandbox test client "${SANDBOX_CLIENT_ID}": -H 'Authorization: Bearer ${SANDBOX_CLIENT_KEY}')`,
          ]
        : []),
      `  Temporal       ${config.temporal.connect.connectionOptions.address}${server?.uiUrl ? `  (Web UI: ${server.uiUrl})` : ''}`,
      `  Task queue     ${config.taskQueue}`,
      `  Codec server   ${config.publicUrl}/codec  (payloads are encrypted; the Web UI decodes through it)`,
      ...(sandbox
        ? [
            `  Sandbox outbox ${config.publicUrl}/sandbox/outbox/html  (JSON: ${config.publicUrl}/sandbox/outbox?to=+1...)`,
            `  Push device    ${config.publicUrl}/sandbox/twilio/device/<identity>  (enroll, then approve or deny)`,
            `  Identity page  the session url from POST /v1/verifications/<id>/client-secret`,
          ]
        : ['  Providers      real credentials (no sandbox)']),
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  return async () => {
    worker.shutdown();
    await running;
    await connection.close();
    sandbox?.close();
    await app.close();
    await guard.close();
    await server?.stop();
  };
});
