import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { VerificationPlugin } from '../../src/temporal/plugin';

/** A worker of our plugin whose provider adapters are typed fakes, on a task queue of its own, and a client. */
export interface FakeWorker {
  client: Client;
  stop(): Promise<void>;
}

/** Starts it against the suite's Temporal dev server (call in `beforeAll`, stop in `afterAll`). */
export async function startFakeWorker(deps: ActivityDeps, taskQueue: string): Promise<FakeWorker> {
  const address = process.env.TEST_TEMPORAL_ADDRESS!;
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, taskQueue, plugins: [new VerificationPlugin({ deps })] });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }) });
  return {
    client,
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
    },
  };
}
