import { phoneContract } from '../workflows/contract';

/**
 * The SMS texts of our own OTP, by name: callers choose a name, never the text (a caller-set text is a phishing
 * vector). A name resolves to the API client's own template first, then the gateway's, then the built-in `default`.
 */
export interface MessageTemplates {
  resolve(client: string | undefined, gateway: string, name: string): string | undefined;
  /** Whether `name` exists for this client on any configured gateway (the API refuses unknown names up front). */
  has(client: string | undefined, name: string): boolean;
}

export function createMessageTemplates(options: {
  clients?: Record<string, Record<string, string> | undefined>;
  gateways?: Record<string, Record<string, string> | undefined>;
}): MessageTemplates {
  const clients = options.clients ?? {};
  const gateways = options.gateways ?? {};
  const resolve = (client: string | undefined, gateway: string, name: string): string | undefined =>
    (client !== undefined ? clients[client]?.[name] : undefined) ??
    gateways[gateway]?.[name] ??
    (name === phoneContract.defaults.otp.templateName ? phoneContract.defaults.otp.template : undefined);
  return {
    resolve,
    has: (client, name) =>
      resolve(client, '', name) !== undefined || Object.keys(gateways).some((g) => gateways[g]?.[name] !== undefined),
  };
}
