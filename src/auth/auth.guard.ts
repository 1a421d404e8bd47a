import {
  createParamDecorator,
  Injectable,
  Logger,
  SetMetadata,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { type ApiCaller, Authenticator } from './authenticator';

const PUBLIC = 'verifyflow:public';

/**
 * Marks a controller (or route) that does not take an API client credential: provider webhooks (their own
 * signatures), the inbound SMS gateway (its own JWT), the codec server (its own token), health and metrics.
 */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(PUBLIC, true);

type AuthenticatedRequest = Request & { apiCaller?: ApiCaller };

/** The authenticated API client of the request (set by ApiAuthGuard): services receive this, never headers. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): ApiCaller => {
  const caller = ctx.switchToHttp().getRequest<AuthenticatedRequest>().apiCaller;
  if (!caller) throw new UnauthorizedException('no authenticated API client');
  return caller;
});

/**
 * The global guard (APP_GUARD): every route needs `Authorization: Bearer <API key or JWT>` unless marked @Public().
 * No credential → 401 with `WWW-Authenticate: Bearer`; a bad one → 401 with `error="invalid_token"` (RFC 6750).
 */
@Injectable()
export class ApiAuthGuard implements CanActivate {
  private readonly logger = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: Authenticator,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [ctx.getHandler(), ctx.getClass()])) return true;
    const http = ctx.switchToHttp();
    const req = http.getRequest<AuthenticatedRequest>();
    const result = await this.authenticator.authenticate(req.headers.authorization);
    if ('client' in result) {
      req.apiCaller = result;
      return true;
    }
    const res = http.getResponse<Response>();
    if (result.error === 'missing') {
      res.setHeader('WWW-Authenticate', 'Bearer realm="verifyflow"');
      throw new UnauthorizedException('authentication required: Authorization: Bearer <API key or JWT>');
    }
    this.logger.warn(`${req.method} ${req.route?.path ?? req.path}: credential refused (${result.why})`);
    res.setHeader('WWW-Authenticate', 'Bearer realm="verifyflow", error="invalid_token"');
    throw new UnauthorizedException('invalid credential');
  }
}
