import { LaunchError } from '../src/common/launch-error';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { ensureTemporalCli } from '../src/temporal/temporal-cli';
import { freePort } from './support/ports';

/**
 * One real Temporal dev server (the official CLI, in memory, headless) for the whole suite. Test files reach it
 * through TEST_TEMPORAL_ADDRESS; each test uses its own task queue and workflow IDs. The CLI is TEMPORAL_CLI, else
 * `temporal` on PATH, else the pinned version the launcher installs under `.temporal/`; suites that run it themselves
 * find it in TEMPORAL_CLI.
 */
export default async function globalSetup(): Promise<void> {
  try {
    process.env.TEMPORAL_CLI = await ensureTemporalCli({
      configured: process.env.TEMPORAL_CLI,
      pathEnv: process.env.PATH,
    });
    const server = await startDevServer({ cli: process.env.TEMPORAL_CLI, port: await freePort(), headless: true });
    (globalThis as { __temporal?: DevServer }).__temporal = server;
    process.env.TEST_TEMPORAL_ADDRESS = server.address;
  } catch (err) {
    // The message says what to do; a stack trace would only bury it.
    if (err instanceof LaunchError) err.stack = err.message;
    throw err;
  }
}
