import { BadRequestException } from '@nestjs/common';
import { CHANNELS_OF, type ApiClientSettings } from '../config/auth-config';
import {
  PHONE_PROVIDERS,
  phoneContract,
  type EventsOption,
  type PhoneProvider,
  type PhoneVerificationInput,
  type Provider,
} from '../../workflows/contract';

/** The part of a phone start the client's settings bound: brand, channels (and their providers), SMS template. */
export type PhoneStartRequest = Omit<PhoneVerificationInput, 'brand'> & { brand?: string };

/**
 * Each API client's server-side settings (CLIENTS_FILE) as the REST API applies them to its starts: defaults where a
 * request leaves something out, bounds a request may narrow but never widen (400 naming the field otherwise). A client
 * without settings (API_KEYS, JWT) gets the contract's defaults, every channel and provider, and no outbound events.
 */
export class ClientSettings {
  /**
   * `unconfigured`: the phone providers this server has no credentials for (`twilio` without TWILIO_*): a request
   * naming one is refused (400) rather than starting a run whose channel can only fail, and none is picked for a
   * channel listed without a provider.
   */
  constructor(
    private readonly clients: Record<string, ApiClientSettings>,
    private readonly unconfigured: readonly PhoneProvider[] = [],
  ) {}

  /** The `events` option of the client's runs: set when it has an events endpoint, else undefined (no events). */
  eventsOption(client: string): EventsOption | undefined {
    const events = this.clients[client]?.events;
    return events ? { ...(events.fields?.length ? { fields: [...events.fields] } : {}) } : undefined;
  }

  /**
   * Refuses a start with a provider the client may not use (`twilio` for push, `stripe` for identity): 400 naming
   * `field`.
   */
  requireProvider(client: string, provider: Provider, field: string): void {
    const allowed = this.clients[client]?.providers;
    if (allowed && !allowed.includes(provider)) {
      throw new BadRequestException(
        `${field}: ${provider} is not allowed for this client (allowed: ${allowed.join(', ')})`,
      );
    }
  }

  /**
   * A phone start as the client's settings make it. Defaults: its `brand`, its channels in its order (each with the
   * first allowed provider that serves it) when the request lists none, its `messageTemplate`, `maxCodeAttempts` and
   * `expirySeconds`. Bounds: each listed channel must be one it allows, each provider too, the two numbers at most its
   * own; a channel listed without a provider (`explicitProviders[i]`
   * false) goes to the first allowed provider that serves it. The request may list fewer channels, in another order.
   * `path` prefixes the field names of a 400 (`phone.` in an onboarding).
   */
  phoneStart(
    client: string,
    body: PhoneStartRequest,
    explicitProviders: readonly boolean[],
    path = '',
  ): PhoneVerificationInput {
    const s = this.clients[client];
    const brand = body.brand ?? s?.brand;
    if (brand === undefined) {
      throw new BadRequestException(`${path}brand: required (no default brand is configured for this client)`);
    }
    const providers = this.phoneProviders(s);
    let channels = body.channels;
    if (channels) {
      channels = channels.map((c, i) => {
        if (s?.channels && !s.channels.includes(c.channel)) {
          throw new BadRequestException(
            `${path}channels[${i}].channel: ${c.channel} is not allowed for this client (allowed: ${s.channels.join(', ')})`,
          );
        }
        if (explicitProviders[i] && c.provider) {
          if (this.unconfigured.includes(c.provider)) {
            throw new BadRequestException(
              `${path}channels[${i}].provider: ${c.provider} is not configured on this server`,
            );
          }
          if (!providers.includes(c.provider)) {
            throw new BadRequestException(
              `${path}channels[${i}].provider: ${c.provider} is not allowed for this client (allowed: ${providers.join(', ') || 'none'})`,
            );
          }
          return c;
        }
        const provider = providers.find((p) => CHANNELS_OF[p].includes(c.channel));
        if (!provider) {
          throw new BadRequestException(
            `${path}channels[${i}].provider: none of this client's providers (${providers.join(', ') || 'none'}) serves ${c.channel}`,
          );
        }
        return { ...c, provider };
      });
    } else if (s?.channels || s?.providers) {
      // Its own plan: its channels (else the contract's) that an allowed provider serves; email needs an address.
      const names = s.channels ?? phoneContract.defaults.channels.map((c) => c.channel);
      channels = names.flatMap((channel) => {
        const provider = providers.find((p) => CHANNELS_OF[p].includes(channel));
        return channel !== 'email' && provider ? [{ channel, provider }] : [];
      });
      if (!channels.length) {
        throw new BadRequestException(
          `${path}channels: required for this client (none of its channels can be used without an address)`,
        );
      }
    }
    const messageTemplate = body.messageTemplate ?? s?.messageTemplate;
    const maxCodeAttempts = atMost(body.maxCodeAttempts, s?.maxCodeAttempts, `${path}maxCodeAttempts`);
    const expirySeconds = atMost(body.expirySeconds, s?.expirySeconds, `${path}expirySeconds`);
    return {
      ...body,
      brand,
      ...(channels && { channels }),
      ...(messageTemplate !== undefined && { messageTemplate }),
      ...(maxCodeAttempts !== undefined && { maxCodeAttempts }),
      ...(expirySeconds !== undefined && { expirySeconds }),
    };
  }

  /** The phone providers the client may use, in its order, that this server is configured for. */
  private phoneProviders(s: ApiClientSettings | undefined): PhoneProvider[] {
    return (s?.providers ?? PHONE_PROVIDERS).filter(
      (p): p is PhoneProvider =>
        (PHONE_PROVIDERS as readonly string[]).includes(p) && !this.unconfigured.includes(p as PhoneProvider),
    );
  }
}

/** Which of a start's channels name their provider (the schema's default `vonage` hides it otherwise). */
export function explicitProviders(raw: unknown): boolean[] {
  const channels = (raw as { channels?: unknown } | undefined)?.channels;
  return Array.isArray(channels)
    ? channels.map((c) => typeof c === 'object' && c !== null && (c as { provider?: unknown }).provider !== undefined)
    : [];
}

/** A request's value under the client's ceiling (which is also the default): 400 naming `field` when above it. */
function atMost(requested: number | undefined, ceiling: number | undefined, field: string): number | undefined {
  if (requested === undefined || ceiling === undefined) return requested ?? ceiling;
  if (requested > ceiling) {
    throw new BadRequestException(`${field}: ${requested} is more than this client allows (at most ${ceiling})`);
  }
  return requested;
}
