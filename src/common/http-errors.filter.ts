import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import type { Request } from 'express';
import { bodyParserError } from './request-bodies';

/**
 * The global exception filter: answers exactly as Nest does (`{statusCode, message, error}`, so the OpenAPI document
 * and clients stay true) but logs by status — a 4xx is the caller's mistake, one WARN line without a stack; a 5xx is
 * ours, ERROR with the stack. Body parser errors (413 too large, 400 malformed JSON, 415 charset…) are answered with
 * their own status instead of a 500. Log lines carry the method and path, never the query string or the body.
 */
@Catch()
export class HttpErrorsFilter extends BaseExceptionFilter {
  private readonly logger = new Logger('Http');

  override catch(exception: unknown, host: ArgumentsHost): void {
    const http =
      exception instanceof HttpException
        ? exception
        : (bodyParserError(exception) ??
          new HttpException(
            { statusCode: HttpStatus.INTERNAL_SERVER_ERROR, message: 'Internal server error' },
            HttpStatus.INTERNAL_SERVER_ERROR,
            { cause: exception },
          ));
    const status = http.getStatus();
    if (host.getType() === 'http') {
      const req = host.switchToHttp().getRequest<Request>();
      const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
      // Nest's not-found message repeats the URL: keep its query string (which may hold a number) out of the log.
      const url = req.originalUrl ?? '';
      const message = url.includes('?') ? messageOf(http).replace(url, path) : messageOf(http);
      const line = `${req.method} ${path} → ${status}: ${message}`;
      if (status >= 500) {
        const original = exception instanceof Error ? exception : http;
        this.logger.error(
          `${line}${original !== http ? ` (${original.name}: ${original.message})` : ''}`,
          original.stack,
        );
      } else {
        this.logger.warn(line);
      }
    }
    super.catch(http, host);
  }
}

/** The message of an HttpException's answer, whether it was built from a string or a body object. */
function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : String(message ?? exception.message);
}
