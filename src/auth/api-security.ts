import type { AbuseGuard } from '../../activities/abuse-guard';
import type { EventEndpoints } from '../../activities/events';
import { createMessageTemplates, type MessageTemplates } from '../../activities/message-templates';
import { DestinationNotAllowedException, RateLimitedException } from '../common/http-errors';
import type { AppConfig } from '../config/config';

/** The SMS texts callers may name: each client's (CLIENTS_FILE) and each gateway's (SMS_GATEWAYS). */
export function templatesOf(config: AppConfig): MessageTemplates {
  return createMessageTemplates({
    clients: Object.fromEntries(Object.values(config.auth.clients).map((c) => [c.id, c.templates])),
    gateways: Object.fromEntries(config.sms.gateways.map((g) => [g.name, g.templates])),
  });
}

/** The events endpoints of the clients that have one (CLIENTS_FILE `events`): the worker signs and sends with them. */
export function eventEndpointsOf(config: AppConfig): EventEndpoints {
  return Object.fromEntries(
    Object.values(config.auth.clients).flatMap((c) =>
      c.events ? [[c.id, { url: c.events.url, secret: c.events.secret }]] : [],
    ),
  );
}

/**
 * What the REST API's services need to keep callers inside the trust boundary: the abuse guard (shared with the
 * worker and every replica), the message templates callers may name, and the key of request hashes.
 */
export class ApiSecurity {
  constructor(
    readonly guard: AbuseGuard,
    readonly templates: MessageTemplates,
    /** Keys the hash of a start request kept in its memo (reference_conflict), never stored in clear. */
    readonly hashKey: Buffer,
    /** Told of each refusal made here, before any workflow exists (the metrics count them by scope and client). */
    private readonly onRefusal: (scope: string, client: string) => void = () => undefined,
  ) {}

  /**
   * Counts the first send of a verification about to start, or refuses it (429 `rate_limited` with its scope, 422
   * `destination_not_allowed`). Returns the undo for a start that then does not happen.
   */
  async countFirstSend(client: string, to: string): Promise<() => Promise<void>> {
    const verdict = await this.guard.consumeSend(client, to);
    if (!verdict.allowed) throw this.refused(verdict, client);
    return () => this.guard.refundSend(client, to);
  }

  /** Refuses a check of a destination locked by failed checks (nothing evaluated, nothing counted). */
  async checkAllowed(client: string, destination: unknown): Promise<void> {
    if (typeof destination !== 'string') return;
    const verdict = await this.guard.checkAllowed(client, destination);
    if (!verdict.allowed) throw this.refused(verdict, client);
  }

  /**
   * Notes the run a REST start began (its client, and the destination its checks are judged by, as an HMAC), for the
   * run's life, so its checks need not describe it (`checkAllowedForRun`). Best effort: without the note a check
   * describes the run, as before; a store error is not the start's.
   */
  async noteRun(runId: string, client: string, destination: string, seconds: number): Promise<void> {
    await this.guard.noteRun?.(runId, client, destination, seconds).catch(() => undefined);
  }

  /**
   * A check of a run noted as `client`'s: true when it may go ahead, 429 (`failed_checks`) when its destination is
   * locked; false when there is no such note (the caller describes the run: ownership and its memo).
   */
  async checkAllowedForRun(client: string, runId: string): Promise<boolean> {
    const verdict = await this.guard.checkAllowedForRun?.(runId, client);
    if (!verdict) return false;
    if (!verdict.allowed) throw this.refused(verdict, client);
    return true;
  }

  /**
   * Whether run `runId` is noted as `client`'s: its owner known without describing it (next-channel, resend, cancel).
   * False without such a note, and on a store error: the caller then describes the run.
   */
  async isNotedRun(client: string, runId: string): Promise<boolean> {
    return (await this.guard.isNotedRun?.(runId, client).catch(() => false)) ?? false;
  }

  /** Refuses a start whose first send would be refused, counting nothing (the run counts its own sends). */
  async checkFirstSend(client: string, to: string): Promise<void> {
    const verdict = await this.guard.peekSend(client, to);
    if (!verdict.allowed) throw this.refused(verdict, client);
  }

  private refused(verdict: Parameters<typeof refusalToHttp>[0], client: string) {
    this.onRefusal(verdict.scope, client);
    return refusalToHttp(verdict);
  }
}

/** The HTTP answer of a refused verdict. */
export function refusalToHttp(verdict: {
  allowed: false;
  scope: string;
  retryAfterSeconds?: number;
}): RateLimitedException | DestinationNotAllowedException {
  if (verdict.scope === 'country') return new DestinationNotAllowedException();
  const seconds = verdict.retryAfterSeconds ?? 60;
  return new RateLimitedException(
    verdict.scope,
    seconds,
    `too many ${verdict.scope === 'failed_checks' ? 'failed checks for' : 'sends to'} this ${verdict.scope === 'client' ? 'client' : 'destination'}: retry in ${seconds} s`,
  );
}
