import type { ApiClientSettings } from '../config/auth-config';
import type { EventsOption } from '../../workflows/contract';

/**
 * Each API client's server-side settings (CLIENTS_FILE) as the REST API applies them to its starts. A client without
 * settings (API_KEYS, JWT) gets none: no outbound events.
 */
export class ClientSettings {
  constructor(private readonly clients: Record<string, ApiClientSettings>) {}

  /** The `events` option of the client's runs: set when it has an events endpoint, else undefined (no events). */
  eventsOption(client: string): EventsOption | undefined {
    const events = this.clients[client]?.events;
    return events ? { ...(events.fields?.length ? { fields: [...events.fields] } : {}) } : undefined;
  }
}
