import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from '@temporalio/client';

/**
 * Provides the Temporal `Client` (class token) built by the entry point from validated config, and closes its
 * connection on shutdown. No workflow is started here.
 */
@Global()
@Module({})
export class TemporalModule implements OnApplicationShutdown {
  constructor(@Inject(Client) private readonly client: Client) {}

  static forClient(client: Client) {
    return { module: TemporalModule, providers: [{ provide: Client, useValue: client }], exports: [Client] };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.connection.close();
  }
}
