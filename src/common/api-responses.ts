import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';

/** The error answers every route may give, with the body Nest gives them: `{statusCode, message, error}`. */
const ERRORS = {
  400: 'Invalid input: the message names the field',
  404: 'Unknown id',
  409: 'Not possible in the current state (e.g. the verification is no longer live)',
  503: 'Temporal is unreachable: nothing was changed, retry later',
} as const;

/** Documents the error statuses of a route that have no more specific description of their own there. */
export function ApiErrors(...statuses: (keyof typeof ERRORS)[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: ERRORS[status] })));
}

/**
 * A start: 201 with the first state; 202 when the workflow was started but its first state could not be read in
 * time (`firstState`); 400 for invalid input; 503 when nothing was started.
 */
export function ApiStart(description: string): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiResponse({ status: 201, description }),
    ApiResponse({
      status: 202,
      description: 'Started, its state not readable yet (busy worker): {id, kind, status: pending, message}; GET it',
    }),
    ApiErrors(400, 503),
  );
}
