import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { freePort } from './support/ports';

/**
 * One real Temporal dev server (the official CLI, in memory, headless) for the whole suite. Test files reach it
 * through TEST_TEMPORAL_ADDRESS; each test uses its own task queue and workflow IDs.
 */
export default async function globalSetup(): Promise<void> {
  const port = await freePort();
  const server = await startDevServer({
    cli: process.env.TEMPORAL_CLI,
    pathEnv: process.env.PATH,
    port,
    headless: true,
  });
  (globalThis as { __temporal?: DevServer }).__temporal = server;
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
}
