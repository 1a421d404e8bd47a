/**
 * The contract of `identityRedaction`: the redaction of one Stripe Identity VerificationSession after a durable
 * delay, confirmed by Stripe's `redacted` event. Deterministic and Node-free; its schemas are built on the first
 * `schemas()` call.
 */
import { z } from 'zod';
import { shared, type IdentityProviderEvent } from './common';
import { lazy, query, signal, update, type WorkflowContract } from './descriptor';

export const REDACTION_STATUSES = [
  'none',
  'scheduled',
  'requested',
  'waiting',
  'processing',
  'redacted',
  'failed',
] as const;
export type RedactionStatus = (typeof REDACTION_STATUSES)[number];

const schemas = lazy('identity-redaction', () => {
  /**
   * Where the redaction of a verification's Stripe session stands. On the verification: `none`, `scheduled` (the
   * redaction workflow waits for `redactAfterSeconds`) or `requested` (redact now). On the redaction workflow also
   * `waiting` (the session is still processing), `processing` (Stripe is redacting), `redacted`, `failed`.
   */
  const info = z.object({
    status: z.enum(REDACTION_STATUSES),
    /** Workflow ID of the `identityRedaction` workflow, once started. */
    workflowId: z.string().optional(),
    /** When the redaction is (or was) due. ISO. */
    redactAt: z.string().optional(),
    error: z.string().optional(),
  });

  /** Input of `identityRedaction` (started by `identityVerification`, or by the REST API for a finished one). */
  const input = z.strictObject({
    verificationId: z.string().min(1).max(200),
    sessionId: z.string().min(1).max(255),
    delaySeconds: z
      .number()
      .int()
      .min(0)
      .max(10 * 365 * 24 * 3600),
    /** While the session is still processing (Stripe refuses to redact it), try again this often. Default 600. */
    pollSeconds: z.number().int().min(1).max(86_400).optional(),
  });

  /** State (and result) of `identityRedaction`. */
  const state = info.extend({
    verificationId: z.string(),
    sessionId: z.string(),
    redactedAt: z.string().optional(),
    updatedAt: z.string(),
  });

  return {
    input,
    result: state,
    state,
    info,
    redactInput: z.strictObject({}),
    providerEvent: shared.identityProviderEvent(),
  };
});

type Schemas = ReturnType<typeof schemas>;
export type IdentityRedactionInfo = z.infer<Schemas['info']>;
export type IdentityRedactionInput = z.infer<Schemas['input']>;
export type IdentityRedactionState = z.infer<Schemas['state']>;
export type RedactInput = z.infer<Schemas['redactInput']>;

/** The redaction's contract (see WorkflowContract). */
export const identityRedactionContract = {
  type: 'identityRedaction',
  summary:
    'Redacts the Stripe session of an identity verification after `delaySeconds` (a durable timer), then waits for ' +
    "Stripe's redacted event. Started by identityVerification (ParentClosePolicy ABANDON) or by the REST API.",
  idPrefix: 'redaction-stripe',
  idPattern: /^redaction-stripe-[A-Za-z0-9_]{1,255}$/,
  idScheme: '`redaction-stripe-<session id>`',
  /**
   * Workflow ID of the redaction of a Stripe session: `redaction-stripe-<session id>` (`redaction-` is no verification
   * kind, so no clash). Derived from the session, so the `redacted` webhook finds it without a lookup, and a new
   * verification of the same user never collides with the pending redaction of the previous one.
   */
  id: (sessionId: string): string => `redaction-stripe-${sessionId}`,
  schemas,
  messages: {
    /** Skip the remaining wait and redact now. */
    redact: update<IdentityRedactionInfo, [RedactInput]>('redact', {
      summary: 'Skip the remaining wait and redact now.',
      input: () => schemas().redactInput,
      result: () => schemas().info,
    }),
    /** Stripe's `redacted` event of the session (signed webhook → signal). */
    providerEvent: signal<[IdentityProviderEvent]>('providerEvent', {
      summary: 'The `redacted` event of the session (sent by /webhooks/stripe).',
      input: () => schemas().providerEvent,
    }),
    /** The state of an `identityRedaction`. */
    getState: query<IdentityRedactionState>('getState', {
      summary: 'The redaction state.',
      result: () => schemas().state,
    }),
  },
  defaults: {},
} satisfies WorkflowContract;
