import 'reflect-metadata';
import { isAbsolute, join, relative } from 'node:path';
import { createAbuseGuard } from './auth/abuse-guard';
import { SANDBOX_CLIENT_ID, SANDBOX_CLIENT_KEY } from './config/auth-config';
import { type AppConfig, loadConfig } from './config/config';
import { createApi } from './app';
import { LaunchError } from './common/launch-error';
import { assertPortsFree, type PortClaim } from './common/ports';
import { localUrl, writeCliProfile } from './temporal/cli-profile';
import { connectClient } from './temporal/client';
import { startDevServer, type DevServer } from './temporal/dev-server';
import { ensureNexusEndpoint, nexusEndpointCommand } from './temporal/nexus-endpoint';
import { createWorker } from './temporal/worker';
import { tracingFromConfig } from './telemetry/tracing';
import { installWorkerRuntime } from './telemetry/worker-metrics';
import { runMain } from './run-main';

/** The ports `npm run dev` listens on, with the variable that moves each. */
function ports(config: AppConfig): PortClaim[] {
  const claims: PortClaim[] = [
    {
      port: config.port,
      host: config.host,
      what: 'the API, PORT',
      hint: 'stop that process or set PORT to a free port',
    },
  ];
  const metrics = /^\[?(.*?)\]?:(\d+)$/.exec(config.telemetry.workerMetricsAddress ?? '');
  if (metrics) {
    claims.push({
      port: Number(metrics[2]),
      host: metrics[1],
      what: 'the worker metrics, WORKER_METRICS_ADDRESS',
      hint: 'stop that process, or set WORKER_METRICS_ADDRESS to a free host:port (or off)',
    });
  }
  if (!config.temporal.embedded) return claims;
  const { devPort, uiPort } = config.temporal;
  return [
    ...claims,
    {
      port: devPort,
      host: '127.0.0.1',
      what: 'the Temporal frontend, TEMPORAL_DEV_PORT',
      hint: `stop that process, set TEMPORAL_DEV_PORT to a free port, or set TEMPORAL_ADDRESS=127.0.0.1:${devPort} to use that server instead of starting one`,
    },
    {
      port: uiPort,
      host: '127.0.0.1',
      what: 'the Temporal Web UI, TEMPORAL_UI_PORT',
      hint: 'stop that process or set TEMPORAL_UI_PORT to a free port',
    },
  ];
}

/** A path as the user typed it best: relative to the working directory when inside it. */
function shown(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * Everything at once, the embedded default (`npm run dev`): the Temporal dev server (SQLite under DATA_DIR, Web UI)
 * unless TEMPORAL_ADDRESS points elsewhere, the worker, the API and — without provider credentials — the sandbox.
 *
 * All or nothing: every port must be free before anything starts (we never attach to a server we did not start); the
 * Temporal server ends with this process however it ends (it runs under a watchdog); and if the server or the worker
 * stops on its own, the rest is stopped and the process exits 1 rather than run on as half a system.
 */
runMain(async (lifecycle) => {
  // One process: the abuse guard may count in memory, and the API and the worker must share that one guard.
  // In the sandbox, the test client's events go to the sandbox receiver unless SANDBOX_EVENTS says otherwise.
  const config = loadConfig(process.env, { singleProcess: true, sandboxEventsByDefault: true });
  await assertPortsFree(
    ports(config),
    'npm run dev starts its own Temporal server and API, and never attaches to running ones.',
  );
  installWorkerRuntime(config.telemetry);
  const tracing = tracingFromConfig(config.telemetry, 'verifyflow');
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
    void server.unexpectedExit.then((how) => lifecycle.fail(`the Temporal dev server ${how}`));
  }
  const plugins = tracing ? [tracing.plugin] : [];
  const client = await connectClient(config, { plugins });
  const { worker, connection } = await createWorker(config, guard, { plugins });
  const running = worker.run();
  void running.then(
    () => {
      if (!lifecycle.stopping) lifecycle.fail('the worker stopped on its own');
    },
    (err: unknown) => lifecycle.fail(`the worker failed: ${err instanceof Error ? err.message : String(err)}`),
  );
  // The Nexus endpoints of the `verification` service: made (idempotently) on the dev server we started; on a cluster
  // of your own, its operator makes them (the banner prints the command).
  const nexusTargets = Object.keys(config.nexus.endpoints).map((name) => ({
    name,
    namespace: config.temporal.connect.namespace ?? 'default',
    taskQueue: config.taskQueue,
  }));
  if (server) for (const target of nexusTargets) await ensureNexusEndpoint(client.connection, target);
  const { app, sandbox } = await createApi(config, client, guard, { tracing });
  await app.listen(config.port, config.host).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    throw new LaunchError(`port ${config.port} (the API, PORT) was taken while starting: set PORT to a free port`);
  });
  // The Temporal CLI's profile for the server we started (a cluster of your own has a profile of your own).
  let cliProfile: string | undefined;
  if (server) {
    cliProfile = join(config.dataDir, 'temporal.toml');
    writeCliProfile(cliProfile, {
      address: server.address,
      namespace: config.temporal.connect.namespace ?? 'default',
      codecEndpoint: `${localUrl(config.host, config.port)}/codec`,
      codecAuth: config.codec.token ? `Bearer ${config.codec.token}` : undefined,
    });
  }

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
      ...nexusTargets.map(
        (t) =>
          `  Nexus          endpoint ${t.name} → API client ${config.nexus.endpoints[t.name]}  (service "verification"${server ? '' : `; create it: ${nexusEndpointCommand(t)}`})`,
      ),
      `  Codec server   ${config.publicUrl}/codec  (payloads are encrypted; the Web UI decodes through it)`,
      `  Metrics        ${config.publicUrl}/metrics (API)${config.telemetry.workerMetricsAddress ? `, http://${config.telemetry.workerMetricsAddress}/metrics (worker, verifications)` : ''}`,
      `  Tracing        ${config.telemetry.otlp ? `OTLP to ${config.telemetry.otlp.tracesUrl}` : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT)'}`,
      ...(cliProfile
        ? [
            `  Temporal CLI   export TEMPORAL_CONFIG_FILE=${shown(cliProfile)}  (this server, decoding through the codec server)`,
          ]
        : []),
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
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined); // a failure was reported through lifecycle.fail
    await connection.close();
    sandbox?.close();
    await app.close();
    await guard.close();
    await server?.stop();
    await tracing?.shutdown();
  };
});
