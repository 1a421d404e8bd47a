import { rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { runMain } from '../src/run-main';
import { REPO, System } from './lib/system';

/**
 * `npm run cluster`: the production shape on this machine — a throwaway PostgreSQL (under .data/cluster/), the
 * Temporal server on it (deploy/temporal/cluster.yaml; the pinned build from scripts/temporal-server.sh), the
 * namespace with our search attributes, one Redis, 2 API and 2 worker replicas as separate processes on their own
 * ports, and the provider emulators (Vonage Verify, an SMS gateway) outside them, as real providers would be.
 *
 * Ctrl-C (or SIGTERM) stops all of it; if this process is killed (-9 included) the servers' watchdogs and the
 * replicas' IPC channels end everything it started. If any part stops on its own, the rest is stopped and the exit
 * status is 1.
 */
runMain(async (lifecycle) => {
  const runDir = join(REPO, '.data', 'cluster');
  rmSync(runDir, { recursive: true, force: true });
  console.log('starting the cluster: PostgreSQL, Temporal server, Redis, 2 API and 2 worker replicas…');
  const started = performance.now();
  const sys = await System.start({
    runDir,
    cluster: { apis: 2, workers: 2 },
    taskQueue: 'verification',
    // The product's default abuse limits (the bench raises them out of reach).
    limits: {},
    onNotice: (line) => console.log(line),
  });
  const temporal = sys.temporalCluster!;
  const postgres = sys.postgres!;
  const watch = (what: string, ended: Promise<string>) =>
    void ended.then((how) => {
      if (!lifecycle.stopping) lifecycle.fail(`${what} ${how}`);
    });
  watch('PostgreSQL', postgres.unexpectedExit);
  watch('the Temporal server', temporal.unexpectedExit);
  for (const child of [...sys.apis, ...sys.workers]) {
    if (child)
      watch(
        child.name,
        child.exited.then((how) => `exited on its own (${how})`),
      );
  }
  const logs = relative(process.cwd(), runDir) || runDir;
  const api = (i: number) => sys.apiUrlOf(i);
  console.log(
    [
      '',
      `verifyflow cluster is running (up in ${Math.round((performance.now() - started) / 1000)} s)`,
      `  API replicas   ${api(0)}  ${api(1)}  (OpenAPI: ${api(0)}/docs)`,
      `  API key        ${sys.apiKey}  (client "bench": -H 'Authorization: Bearer ${sys.apiKey}')`,
      `  Workers        2 replicas on task queue ${sys.taskQueue}`,
      `  Temporal       ${temporal.address}  namespace ${temporal.namespace}  (server metrics: ${temporal.metricsUrl})`,
      `  PostgreSQL     127.0.0.1:${postgres.port}  user ${postgres.user}, databases temporal and temporal_visibility`,
      `  Redis          ${sys.redis!.url}  (the abuse guard, shared by every replica)`,
      `  Providers      ${sys.provider.url}  (Vonage Verify and an SMS gateway, emulated; outbox: ${sys.provider.url}/sandbox/outbox/html)`,
      `  Codec server   ${api(0)}/codec  (Authorization: Bearer ${sys.codecToken})`,
      `  Logs           ${logs}/*.log`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  return () => sys.stop();
});
