import { shared } from '../../workflows/contract';

/** The Nexus endpoint `npm run dev` creates in sandbox mode, for the sandbox test client. */
export const SANDBOX_NEXUS_ENDPOINT = 'verifyflow';

/** The `verification` Nexus service: which API client the callers of each Nexus endpoint act as. */
export interface NexusConfig {
  /** Endpoint name → API client id. Empty: the worker serves no Nexus service. */
  endpoints: Record<string, string>;
}

/** What Temporal accepts as an endpoint name. */
const ENDPOINT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,198}[A-Za-z0-9]$/;

/**
 * Reads NEXUS_ENDPOINTS: `<endpoint>:<client>,…` — each Nexus endpoint that targets this worker's task queue, and the
 * API client its callers act as (their verifications carry that client, its limits and templates apply). In sandbox
 * mode it defaults to `verifyflow:sandbox` (the endpoint `npm run dev` creates, for the sandbox test client); `off`
 * serves no Nexus service. Throws an Error naming the variable.
 */
export function loadNexusConfig(env: Record<string, string | undefined>, ctx: { sandbox: boolean }): NexusConfig {
  const raw = env.NEXUS_ENDPOINTS?.trim();
  if (raw === 'off') return { endpoints: {} };
  if (!raw) return { endpoints: ctx.sandbox ? { [SANDBOX_NEXUS_ENDPOINT]: 'sandbox' } : {} };
  const endpoints: Record<string, string> = {};
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, client, extra] = entry.split(':');
    if (extra !== undefined || !name || !client) {
      throw new Error(`NEXUS_ENDPOINTS: "${entry}" must be <endpoint>:<client>`);
    }
    if (!ENDPOINT_NAME.test(name)) {
      throw new Error(
        `NEXUS_ENDPOINTS: endpoint "${name}" must be a Nexus endpoint name (a letter, then letters, digits and -)`,
      );
    }
    const parsed = shared.clientId().safeParse(client);
    if (!parsed.success || client === 'temporal') {
      throw new Error(
        `NEXUS_ENDPOINTS: the client of endpoint ${name} ${parsed.success ? 'is reserved' : parsed.error.issues[0].message}`,
      );
    }
    if (endpoints[name]) throw new Error(`NEXUS_ENDPOINTS: endpoint ${name} is listed twice`);
    endpoints[name] = client;
  }
  return { endpoints };
}
