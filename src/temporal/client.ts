import { Client, Connection, type ClientPlugin } from '@temporalio/client';
import type { AppConfig } from '../config/config';
import { codecDataConverter } from './codec';

/**
 * A Temporal client from envconfig (address, namespace, API key, TLS, profile), encrypting payloads; `plugins` e.g.
 * the tracing plugin (telemetry/tracing).
 */
export async function connectClient(config: AppConfig, options: { plugins?: ClientPlugin[] } = {}): Promise<Client> {
  const { connectionOptions, namespace } = config.temporal.connect;
  const connection = await Connection.connect({
    address: connectionOptions.address,
    tls: connectionOptions.tls,
    apiKey: connectionOptions.apiKey,
    metadata: connectionOptions.metadata,
  });
  return new Client({
    connection,
    namespace: namespace ?? 'default',
    dataConverter: codecDataConverter(config.codec.keys),
    plugins: options.plugins,
  });
}
