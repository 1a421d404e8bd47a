import { createHash } from 'node:crypto';
import { applyDecorators, BadRequestException, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { Request } from 'express';

const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The request's `Idempotency-Key` header (optional): 1–255 visible ASCII characters, else 400 naming the header.
 * A retried request with the same key and the same body is the same Temporal update (see `updateIdFor`).
 */
export const IdempotencyKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const value = ctx.switchToHttp().getRequest<Request>().get('idempotency-key');
  if (value === undefined) return undefined;
  if (!KEY.test(value)) throw new BadRequestException('Idempotency-Key: must be 1-255 visible ASCII characters');
  return value;
});

/** Documents the header on a route. */
export const ApiIdempotencyKey = (): MethodDecorator & ClassDecorator =>
  applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Retry safely: a repeat with the same key and body gets the first answer instead of acting again ' +
        '(even after the answer ended the verification)',
    }),
  );

/**
 * The Temporal update ID for an update sent with an idempotency key: the server runs an update ID once per run and
 * answers a repeat with the first outcome. The body is part of it, so a reused key with another body is another
 * update, never the first one's answer. Without a key: undefined (the client picks a random ID, as before).
 */
export function updateIdFor(update: string, key: string | undefined, body: unknown): string | undefined {
  if (key === undefined) return undefined;
  const hash = createHash('sha256')
    .update(`${update}\0${key}\0${JSON.stringify(body ?? null)}`)
    .digest('hex');
  return `${update}-${hash.slice(0, 40)}`;
}
