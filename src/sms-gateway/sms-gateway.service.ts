import { createHmac } from 'node:crypto';
import {
  BadGatewayException,
  GatewayTimeoutException,
  HttpException,
  HttpStatus,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { Client, WithStartWorkflowOperation, WorkflowNotFoundError } from '@temporalio/client';
import { verifyGatewayToken } from '../../providers/sms-gateway/token';
import { AppConfig } from '../config/config';
import type { RateLimitRule, SmsConfig } from '../config/sms-config';
import { isUnavailable, toHttpError } from '../temporal/errors';
import {
  type AcquireResult,
  rateLimitContract,
  SA_KIND,
  SA_STATUS,
  smsDeliveryContract,
  type SmsDeliveryInput,
  type SmsDeliveryState,
} from '../../workflows/contract';
import { rateLimit } from '../../workflows/rate-limit';
import { smsDelivery } from '../../workflows/sms-delivery';
import type { SmsGatewayRequest } from './sms-gateway.schema';

type Inbound = NonNullable<SmsConfig['inbound']>;

/** What the endpoint answers with 200 (Auth0 reads only the status; the body is for people and logs). */
export interface SmsGatewayAnswer {
  status: 'accepted' | 'delivered';
  id: string;
  acceptedBy?: string;
}

/** Thrown with HTTP 429 and a Retry-After header when a rate limit refuses a message. */
export class RateLimitedException extends HttpException {
  constructor(
    readonly scope: 'recipient' | 'ip',
    rule: RateLimitRule,
    readonly retryAfterSeconds: number,
  ) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        error: 'rate_limited',
        scope,
        message: `too many messages ${scope === 'ip' ? 'from this client IP' : 'to this recipient'}: at most ${rule.limit} per ${rule.windowSeconds} s; retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/**
 * The Auth0-compatible inbound SMS gateway over the contract: checks the bearer JWT, then starts (or joins) the
 * `smsDelivery` workflow of the message with update-with-start and answers once a provider accepted it, within the
 * configured budget. Holds no state: idempotency and rate limits live in workflows whose IDs are keyed hashes, so
 * recipients and IPs appear in no ID, search attribute or log line — only in (encrypted) payloads.
 */
@Injectable()
export class SmsGatewayService {
  private readonly logger = new Logger('SmsGateway');

  constructor(
    private readonly client: Client,
    private readonly config: AppConfig,
  ) {}

  private inbound(): Inbound {
    const inbound = this.config.sms.inbound;
    if (!inbound)
      throw new ServiceUnavailableException('the inbound SMS gateway is not configured (SMS_INBOUND_SECRET)');
    return inbound;
  }

  /**
   * Verifies `Authorization: Bearer <HS256 JWT>` (Auth0 custom SMS gateway): signature, `aud`, `sub`, expiry, and a life of at most
   * 5 minutes (`verifyGatewayToken`). 401 names the reason.
   */
  authenticate(authorization: string | undefined): void {
    const verdict = verifyGatewayToken(authorization, this.inbound());
    if (!verdict.ok) {
      this.logger.warn(`inbound SMS refused: ${verdict.why}`);
      throw new UnauthorizedException(verdict.why);
    }
  }

  /**
   * Delivers one message: 200 once a provider accepted it; 429 over a rate limit; 502 when every route failed; 504
   * when none accepted within the budget (the workflow goes on: Auth0 reports `sms_provider_error` meanwhile).
   */
  async deliver(message: SmsGatewayRequest): Promise<SmsGatewayAnswer> {
    const inbound = this.inbound();
    const deadline = Date.now() + inbound.budgetMs;
    let timer: NodeJS.Timeout | undefined;
    const work = this.deliverBy(message, inbound, deadline);
    const budget = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), inbound.budgetMs);
    });
    try {
      const outcome = await Promise.race([work, budget]);
      if (outcome === 'timeout') {
        work.catch(() => undefined);
        throw new GatewayTimeoutException(`no provider accepted the message within ${inbound.budgetMs} ms`);
      }
      return this.answer(outcome);
    } finally {
      clearTimeout(timer);
    }
  }

  private async deliverBy(message: SmsGatewayRequest, inbound: Inbound, deadline: number): Promise<SmsDeliveryState> {
    const window = inbound.dedupeWindowSeconds * 1000;
    const now = Date.now();
    const bucket = window > 0 ? Math.floor(now / window) : now;
    const idOf = (b: number) =>
      smsDeliveryContract.id(this.hash(inbound, `sms\n${message.recipient}\n${message.body}\n${b}`));
    const id = idOf(bucket);
    // One second of the budget is kept for answering.
    const waitSeconds = () => Math.max(0, Math.floor((deadline - Date.now() - 1000) / 100) / 10);
    try {
      // A repeat (Auth0 retrying) joins the run of the same message — also one begun in the previous time bucket —
      // and is not counted against the rate limits again.
      const running = await this.firstRunning(window > 0 ? [id, idOf(bucket - 1)] : [id]);
      if (running) {
        return await this.client.workflow
          .getHandle(running)
          .executeUpdate(smsDeliveryContract.messages.awaitAcceptance, { args: [{ waitSeconds: waitSeconds() }] });
      }
      await this.enforceRateLimits(message, inbound);
      const input: SmsDeliveryInput = {
        recipient: message.recipient,
        body: message.body,
        sender: message.sender,
        ...(message.req ? { req: message.req } : {}),
        routes: inbound.routes,
        attemptsPerRoute: inbound.attemptsPerRoute,
        receiptTimeoutSeconds: inbound.receiptTimeoutSeconds,
        dedupeWindowSeconds: inbound.dedupeWindowSeconds,
      };
      const routes = inbound.routes.map((r) => (r.gateway ? `${r.provider}:${r.gateway}` : r.provider)).join(' → ');
      return await this.client.workflow.executeUpdateWithStart(smsDeliveryContract.messages.awaitAcceptance, {
        args: [{ waitSeconds: waitSeconds() }],
        startWorkflowOperation: new WithStartWorkflowOperation(smsDelivery, {
          workflowId: id,
          taskQueue: this.config.taskQueue,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          typedSearchAttributes: [
            { key: SA_KIND, value: smsDeliveryContract.kind },
            { key: SA_STATUS, value: 'sending' },
          ],
          // No recipient, text or IP in summaries: they are stored in clear.
          staticSummary: `SMS delivery (inbound gateway) via ${routes}`,
        }),
      });
    } catch (err) {
      if (err instanceof HttpException) throw err;
      if (isUnavailable(err)) throw new ServiceUnavailableException('Temporal is unreachable; retry later');
      throw toHttpError(err, id);
    }
  }

  private answer(state: SmsDeliveryState): SmsGatewayAnswer {
    if (state.status === 'accepted' || state.status === 'delivered') {
      this.logger.log(`${state.id} accepted by ${state.acceptedBy}`);
      return { status: state.status, id: state.id, acceptedBy: state.acceptedBy };
    }
    if (state.status === 'failed') {
      this.logger.warn(`${state.id}: no provider accepted the message (${state.reason})`);
      throw new BadGatewayException({
        statusCode: HttpStatus.BAD_GATEWAY,
        error: 'sms_provider_error',
        message: `no provider accepted the message (${state.reason})`,
        id: state.id,
      });
    }
    throw new GatewayTimeoutException(`no provider accepted the message yet (${state.id}); it is still being tried`);
  }

  /** The first of the IDs whose workflow is running. */
  private async firstRunning(ids: string[]): Promise<string | undefined> {
    const described = await Promise.all(
      ids.map((id) =>
        this.client.workflow
          .getHandle(id)
          .describe()
          .then((d) => d.status.name === 'RUNNING')
          .catch((err) => {
            if (err instanceof WorkflowNotFoundError) return false;
            throw err;
          }),
      ),
    );
    return ids.find((_, i) => described[i]);
  }

  private async enforceRateLimits(message: SmsGatewayRequest, inbound: Inbound): Promise<void> {
    const checks: ['recipient' | 'ip', string, RateLimitRule | undefined][] = [
      ['recipient', message.recipient, inbound.rateLimits.recipient],
      ['ip', message.req?.ip ?? '', inbound.rateLimits.ip],
    ];
    for (const [scope, key, rule] of checks) {
      if (!rule || !key) continue;
      const result = await this.acquire(inbound, scope, key, rule);
      if (!result.allowed) {
        this.logger.warn(`inbound SMS refused: ${scope} rate limit`);
        throw new RateLimitedException(scope, rule, result.retryAfterSeconds ?? rule.windowSeconds);
      }
    }
  }

  /** One hit on the `rateLimit` workflow of (scope, key), started if needed. */
  private async acquire(inbound: Inbound, scope: string, key: string, rule: RateLimitRule): Promise<AcquireResult> {
    const workflowId = rateLimitContract.id(scope, this.hash(inbound, `${scope}\n${key}`));
    const run = () =>
      this.client.workflow.executeUpdateWithStart(rateLimitContract.messages.acquire, {
        args: [rule],
        startWorkflowOperation: new WithStartWorkflowOperation(rateLimit, {
          workflowId,
          taskQueue: this.config.taskQueue,
          args: [{}],
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary: `Rate limit per ${scope}: ${rule.limit} per ${rule.windowSeconds} s`,
        }),
      });
    try {
      return await run();
    } catch (err) {
      // The limiter may have closed (its window passed) just as the update arrived: the retry starts a fresh one.
      if (isUnavailable(err)) throw err;
      return run();
    }
  }

  /** Keyed hash naming workflows after recipients, messages and IPs without revealing them (128 bits, hex). */
  private hash(inbound: Inbound, value: string): string {
    return createHmac('sha256', inbound.idSecret).update(value).digest('hex').slice(0, 32);
  }
}
