import { Client, Connection } from '@temporalio/client';
import {
  DEV_SERVER_DYNAMIC_CONFIG,
  dynamicConfigFlags,
  startDevServer,
  type DevServer,
} from '../../src/temporal/dev-server';
import { freePort } from '../support/ports';

/**
 * The dynamic config every dev server runs with: the flags `temporal server start-dev` takes, and a real server
 * obeying one (an ID length limit the server checks on start, observable without a worker; it also bounds the client's
 * 36-character request ID, hence 40).
 */
describe('dev server dynamic config', () => {
  it('writes each value as KEY=JSON, a string quoted', () => {
    expect(dynamicConfigFlags({ 'a.number': 1000, 'b.flag': true, 'c.text': '5s' })).toEqual([
      '--dynamic-config-value',
      'a.number=1000',
      '--dynamic-config-value',
      'b.flag=true',
      '--dynamic-config-value',
      'c.text="5s"',
    ]);
  });

  it('lifts the transfer-queue read limit above the server default of 20 a second per shard', () => {
    expect(DEV_SERVER_DYNAMIC_CONFIG['history.transferProcessorMaxPollRPS']).toBeGreaterThan(20);
  });

  describe('on a real dev server', () => {
    let server: DevServer;
    let connection: Connection;
    beforeAll(async () => {
      server = await startDevServer({
        cli: process.env.TEMPORAL_CLI,
        port: await freePort(),
        headless: true,
        dynamicConfig: { 'limit.maxIDLength': 40 },
      });
      connection = await Connection.connect({ address: server.address });
    }, 60_000);
    afterAll(async () => {
      await connection?.close();
      await server?.stop();
    });

    it('applies a value given to startDevServer: a workflow ID over the configured 40 characters is refused', async () => {
      const client = new Client({ connection });
      const start = (workflowId: string) =>
        client.workflow.start('anyWorkflow', { taskQueue: 'dev-server-config', workflowId, args: [] });
      const refused = await start('x'.repeat(50)).then(
        () => undefined,
        (err: Error) => err,
      );
      expect(String((refused?.cause as Error | undefined)?.message)).toMatch(
        /exceeds maximum allowed length \(50\/40\)/,
      );
      const handle = await start('y'.repeat(40));
      await handle.terminate('test over');
    });
  });
});
