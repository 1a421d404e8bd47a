import {
  type CallHandler,
  ConflictException,
  type ExecutionContext,
  HttpException,
  HttpStatus,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import type { Response } from 'express';
import { catchError, type Observable, throwError } from 'rxjs';

/** 429 `{error: "rate_limited", scope, retryAfterSeconds}` with a Retry-After header (set by RetryAfterInterceptor). */
export class RateLimitedException extends HttpException {
  constructor(
    readonly scope: string,
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(
      { statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'rate_limited', scope, retryAfterSeconds, message },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

/** 422 `{error: "destination_not_allowed"}`: the destination's country is not among the allowed countries. */
export class DestinationNotAllowedException extends HttpException {
  constructor() {
    super(
      {
        statusCode: HttpStatus.UNPROCESSABLE_ENTITY,
        error: 'destination_not_allowed',
        message: 'to: the destination country is not allowed for this client',
      },
      HttpStatus.UNPROCESSABLE_ENTITY,
    );
  }
}

/** 409 `{error: "reference_conflict"}`: the reference names a verification started with another body. */
export class ReferenceConflictException extends ConflictException {
  constructor(id: string) {
    super({
      statusCode: HttpStatus.CONFLICT,
      error: 'reference_conflict',
      message: `reference: ${id} is a running verification started with a different request; use another reference`,
    });
  }
}

/** Puts `Retry-After` on every 429 a route answers (the exception carries the seconds). */
@Injectable()
export class RetryAfterInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        const seconds = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
        if (err instanceof HttpException && err.getStatus() === 429 && typeof seconds === 'number') {
          ctx.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(seconds));
        }
        return throwError(() => err);
      }),
    );
  }
}
