import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { z } from 'zod';
import { formatIssues } from '../../workflows/contract';

/**
 * Validates a request body with the contract's zod schema (the same one the workflow validates with), so a 400
 * names every bad field: `to: must be an E.164 phone number like +14155550100`.
 */
export class ZodBody<T extends z.ZodType> implements PipeTransform<unknown, z.output<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.output<T> {
    const result = this.schema.safeParse(value ?? {});
    if (!result.success) throw new BadRequestException(formatIssues(result.error));
    return result.data;
  }
}

/** The JSON Schema of a contract schema, for OpenAPI. */
export const jsonSchemaOf = (schema: z.ZodType): Record<string, unknown> =>
  z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
