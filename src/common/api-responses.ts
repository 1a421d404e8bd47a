import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse } from '@nestjs/swagger';

/** The error answers every route may give, with the body Nest gives them: `{statusCode, message, error}`. */
const ERRORS = {
  400: 'Invalid input: the message names the field',
  404: "Unknown id (another client's id answers the same)",
  409: 'Not possible in the current state (e.g. the verification is no longer live)',
  422: '`{error: "destination_not_allowed"}`: the destination country is not allowed; nothing was sent',
  429: '`{error: "rate_limited", scope, retryAfterSeconds}` with Retry-After: the abuse guard refused; nothing was sent',
  503: 'Temporal is unreachable: nothing was changed, retry later',
} as const;

/**
 * Routes that need an API client credential (`Authorization: Bearer <API key or JWT>`): 401 without one, or with a
 * bad one (`WWW-Authenticate: Bearer`).
 */
export function ApiAuthenticated(): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBearerAuth(),
    ApiResponse({ status: 401, description: 'No credential, or a bad one (WWW-Authenticate: Bearer)' }),
  );
}

/** Documents the error statuses of a route that have no more specific description of their own there. */
export function ApiErrors(...statuses: (keyof typeof ERRORS)[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: ERRORS[status] })));
}

/**
 * A start: 201 with the first state; 202 when the workflow was started but its first state could not be read in
 * time (`firstState`); 400 for invalid input; 409 `reference_conflict`; 503 when nothing was started; with
 * `guarded`, 429/422 when the abuse guard refuses the first send (nothing started).
 */
export function ApiStart(description: string, options: { guarded?: boolean } = {}): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiResponse({ status: 201, description }),
    ApiResponse({
      status: 202,
      description: 'Started, its state not readable yet (busy worker): {id, kind, status: pending, message}; GET it',
    }),
    ApiResponse({
      status: 409,
      description: '`{error: "reference_conflict"}`: the reference is a running verification of another request',
    }),
    ApiErrors(400, 503, ...(options.guarded ? ([422, 429] as const) : [])),
  );
}
