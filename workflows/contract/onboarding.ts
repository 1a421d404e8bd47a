/**
 * The contract of `onboarding`: phone, then identity (then a verified push factor), each a child workflow of its
 * own kind. Deterministic and Node-free; its schemas are built on the first `schemas()` call.
 */
import { z } from 'zod';
import {
  LIVE_STATUSES,
  TERMINAL_STATUSES,
  shared,
  verificationIdFor,
  verificationIdPattern,
  type CancelInput,
} from './common';
import { lazy, query, update, type WorkflowContract } from './descriptor';
import { eventDeliveryContract } from './events';
import { identityContract } from './identity';
import { phoneContract } from './phone';

export const ONBOARDING_STEPS = ['phone', 'identity', 'push'] as const;
export type OnboardingStepName = (typeof ONBOARDING_STEPS)[number];

const schemas = lazy('onboarding', () => {
  const phone = phoneContract.schemas();
  const identity = identityContract.schemas();

  const input = z.strictObject({
    /** The platform's user id (not PII): every step's workflow ID derives from it. */
    reference: shared.reference(),
    /** phoneVerification input, without `reference` (and what only the API sets). */
    phone: phone.input.omit({ reference: true, client: true, firstSendCounted: true, events: true }),
    /** identityVerification input, without `reference` (and `client`). */
    identity: identity.fields.omit({ reference: true, client: true, events: true }),
    /** When given, onboarding also waits for this push identity to have a verified Twilio factor. */
    push: z
      .strictObject({
        identity: shared.pushIdentity(),
        timeoutSeconds: z
          .number()
          .int()
          .min(5)
          .max(7 * 24 * 3600)
          .optional(),
        pollIntervalSeconds: z.number().int().min(1).max(3600).optional(),
      })
      .optional(),
    /** The API client that started it (set by the REST API, never by its callers); every step inherits it. */
    client: shared.clientId().optional(),
    /** Outbound `onboarding.*` events (set by the REST API when the client has an events endpoint). */
    events: eventDeliveryContract.schemas().option.optional(),
  });

  const step = z.object({
    name: z.enum(ONBOARDING_STEPS),
    workflowId: z.string(),
    status: z.enum(['waiting', 'running', 'completed', 'failed', 'expired', 'cancelled', 'skipped']),
    reason: z.string().optional(),
  });

  const state = z.object({
    id: z.string(),
    kind: z.literal('onboarding'),
    client: z.string().optional(),
    status: z.enum([...LIVE_STATUSES, ...TERMINAL_STATUSES]),
    /** `<step>:<reason of that step>` when a step ended the onboarding. */
    reason: z.string().optional(),
    step: z.enum(ONBOARDING_STEPS).optional(),
    steps: z.array(step),
    startedAt: z.string(),
    updatedAt: z.string(),
  });

  /** Result of `onboarding`: the final state and each step's own result (identity outputs only here, encrypted). */
  const result = state.extend({
    results: z.object({
      phone: phone.state.optional(),
      identity: identity.result.optional(),
      push: z.object({ factorSid: z.string().optional(), verified: z.boolean() }).optional(),
    }),
  });

  return { input, result, state, step, cancelInput: shared.cancelInput() };
});

type Schemas = ReturnType<typeof schemas>;
/** Input of `onboarding`: phone, then identity (then push enrollment), each a child workflow. */
export type OnboardingInput = z.input<Schemas['input']>;
export type OnboardingStep = z.infer<Schemas['step']>;
export type OnboardingState = z.infer<Schemas['state']>;
export type OnboardingResult = z.infer<Schemas['result']>;

/** The onboarding's contract (see WorkflowContract). */
export const onboardingContract = {
  type: 'onboarding',
  kind: 'onboarding' as const,
  summary:
    'Onboards one user: phoneVerification, then identityVerification (then a verified push factor, when asked), each a child workflow; the first step that does not complete ends it.',
  idPrefix: 'onboarding',
  idPattern: verificationIdPattern('onboarding', 34),
  idScheme:
    '`onboarding-<client>-<reference>`; its steps are `phone-<client>-<reference>`, `identity-<client>-<reference>` ' +
    '(without a client, the same without `<client>-`; USE_EXISTING on start)',
  /** Workflow ID of an onboarding: `onboarding-<client>-<reference>` (`onboarding-<reference>` without a client). */
  id: (reference: string, client?: string): string => verificationIdFor('onboarding', reference, client),
  schemas,
  messages: {
    /** Cancel the onboarding and its running step. Returns the final state. */
    cancel: update<OnboardingState, [CancelInput]>('cancel', {
      summary: 'Cancel the onboarding and its running step.',
      input: () => schemas().cancelInput,
      result: () => schemas().state,
    }),
    /** Each step with its status. */
    getState: query<OnboardingState>('getState', {
      summary: 'Each step with its status.',
      result: () => schemas().state,
    }),
  },
  defaults: {},
} satisfies WorkflowContract;
