import { z } from 'zod';
import { shared } from '../../workflows/contract';

/**
 * The body Auth0 POSTs to a custom SMS gateway (Auth0's custom SMS gateway docs): `{recipient, body, sender, req?}`. Auth0 formats numbers
 * with spaces (`"+1 399 999"`), so spaces, dots, dashes and parentheses are dropped before the E.164 check. Unknown
 * fields are ignored (Auth0 may add some); `req` is there when the connection has `forward_req_info`.
 */
export const smsGatewayRequestSchema = z.object({
  recipient: z
    .string({ error: 'is required' })
    .transform((v) => v.replace(/[\s().-]/g, ''))
    .pipe(shared.e164Shape()),
  body: z.string({ error: 'is required' }).min(1, 'is required').max(1600, 'must be at most 1600 characters'),
  sender: z.string({ error: 'is required' }).trim().min(1, 'is required').max(32, 'must be at most 32 characters'),
  req: z
    .object({
      ip: z.string().max(100).optional(),
      'user-agent': z.string().max(1024).optional(),
    })
    .optional(),
});
export type SmsGatewayRequest = z.output<typeof smsGatewayRequestSchema>;
