/**
 * The `verification` Nexus service: how a workflow in another namespace verifies a user through a Nexus endpoint,
 * without hosting our workflows. Its operations carry the same payloads as the workflow contract: the start
 * operations take a workflow's input (without what only the service sets: `client`, `events`, `firstSendCounted`) and
 * return its result; `checkCode` and `getState` are the `checkCode` update and the `getState` query of the verification
 * they name (and `nextChannel` / `resend`, phone's updates of those names). The handlers run in our worker (src/temporal/nexus.ts); every caller of an endpoint is the one API client
 * the endpoint is configured for (NEXUS_ENDPOINTS), so a caller sees and drives only that client's verifications.
 *
 * Deterministic and Node-free (caller workflows import it); the schemas are built on first use.
 */
import { operation, service } from 'nexus-rpc';
import { z } from 'zod';
import { VERIFICATION_KINDS, type VerificationKind } from './common';
import { lazy } from './descriptor';
import {
  identityContract,
  identityRules,
  type IdentityVerificationInput,
  type IdentityVerificationResult,
} from './identity';
import {
  phoneContract,
  type CheckCodeInput,
  type CheckCodeResult,
  type PhoneVerificationInput,
  type PhoneVerificationResult,
  type PhoneVerificationState,
} from './phone';
import {
  pushContract,
  type PushVerificationInput,
  type PushVerificationResult,
  type PushVerificationState,
} from './push';
import type { IdentityVerificationState } from './identity';

/** The Nexus service's name. */
export const VERIFICATION_NEXUS_SERVICE = 'verification';

/** A verification named by its ID, or by its kind and the caller's `reference` (the ID is then the service's to make). */
export type VerificationRef = { id: string } | { kind: VerificationKind; reference: string };

/** Input of `phoneVerification` over Nexus: the workflow's input without `client`, `events` and `firstSendCounted`. */
export type PhoneNexusInput = Omit<PhoneVerificationInput, 'client' | 'events' | 'firstSendCounted'>;
/** Input of `pushVerification` over Nexus: the workflow's input without `client` and `events` (its fallback: as phone's). */
export type PushNexusInput = Omit<PushVerificationInput, 'client' | 'events' | 'fallback'> & {
  fallback?: PhoneNexusInput;
};
/** Input of `identityVerification` over Nexus: the workflow's input without `client` and `events`. */
export type IdentityNexusInput = Omit<IdentityVerificationInput, 'client' | 'events'>;
/** Input of `checkCode` over Nexus: the phone verification (its ID, or its reference) and the update's argument. */
export type CheckCodeNexusInput = ({ id: string } | { reference: string }) & CheckCodeInput;
/** Input of `nextChannel` and `resend` over Nexus: the phone verification, by its ID or its reference. */
export type PhoneRefNexusInput = { id: string } | { reference: string };
/** Input of `getState` over Nexus. */
export type GetStateNexusInput = VerificationRef;
/** What `getState` answers: the state of a phone, push or identity verification. */
export type NexusVerificationState = PhoneVerificationState | PushVerificationState | IdentityVerificationState;

const schemas = lazy('nexus', () => {
  const phone = phoneContract.schemas();
  const id = z.string().min(1).max(200);
  const kind = z.enum(VERIFICATION_KINDS);
  /** A reference of any kind (identity's are the longest); the kind's own rule applies where the ID is made. */
  const reference = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -');
  const phoneVerification = phone.input.omit({ client: true, events: true, firstSendCounted: true });
  return {
    phoneVerification,
    // The phone fallback is the phone operation's input too: its client is the push's, and every send is counted.
    pushVerification: pushContract
      .schemas()
      .input.omit({ client: true, events: true })
      .extend({ fallback: phoneVerification.optional() }),
    identityVerification: identityRules(identityContract.schemas().fields.omit({ client: true, events: true })),
    checkCode: z.union([
      phone.checkCodeInput.extend({ id }).strict(),
      phone.checkCodeInput.extend({ reference }).strict(),
    ]),
    phoneRef: z.union([z.strictObject({ id }), z.strictObject({ reference })]),
    getState: z.union([z.strictObject({ id }), z.strictObject({ kind, reference })]),
  };
});

/**
 * The `verification` service definition. Caller workflows use it with `createNexusServiceClient({ endpoint, service:
 * verificationNexusService })`; the worker implements it (VerificationPlugin registers the handlers).
 */
export const verificationNexusService = service(VERIFICATION_NEXUS_SERVICE, {
  /** Runs a phone verification to its end (a workflow-run operation): answers its final state. */
  phoneVerification: operation<PhoneNexusInput, PhoneVerificationResult>(),
  /** Runs a push verification to its end: answers its final state. */
  pushVerification: operation<PushNexusInput, PushVerificationResult>(),
  /** Runs an identity verification to its end: answers its result (the verified outputs, encrypted in transit). */
  identityVerification: operation<IdentityNexusInput, IdentityVerificationResult>(),
  /** Submits a code to a live phone verification (its `checkCode` update): answers at once. */
  checkCode: operation<CheckCodeNexusInput, CheckCodeResult>(),
  /** Moves a live phone verification to its next channel (its `nextChannel` update): answers the new state. */
  nextChannel: operation<PhoneRefNexusInput, PhoneVerificationState>(),
  /** Sends a new code of ours on the current channel (its `resend` update): answers the state. */
  resend: operation<PhoneRefNexusInput, PhoneVerificationState>(),
  /** The current state of a verification (its `getState` query): answers at once. */
  getState: operation<GetStateNexusInput, NexusVerificationState>(),
});

/** Each operation as docs/CONTRACT.md presents it: what it is, and its input's schema. */
export const VERIFICATION_NEXUS_OPERATIONS: readonly {
  name: keyof typeof verificationNexusService.operations;
  kind: 'workflow run' | 'sync';
  summary: string;
  input: () => z.ZodType;
}[] = [
  {
    name: 'phoneVerification',
    kind: 'workflow run',
    summary:
      'Starts `phoneVerification` and answers its result once it ends. With a `reference` the ID is ' +
      '`phone-<client>-<reference>` and a repeat of the same request (over Nexus or REST) joins the running ' +
      'verification, another request under it fails `ReferenceConflict`; without one, the ID derives from ' +
      "the operation's request ID (a retried start never starts a second one).",
    input: () => schemas().phoneVerification,
  },
  {
    name: 'pushVerification',
    kind: 'workflow run',
    summary:
      "Starts `pushVerification` (the user's `identity` becomes the entity `<client>-<identity>`, as over REST) and " +
      'answers its result once it ends.',
    input: () => schemas().pushVerification,
  },
  {
    name: 'identityVerification',
    kind: 'workflow run',
    summary:
      'Starts `identityVerification` (ID `identity-<client>-<reference>`) and answers its result once it ends; a ' +
      'repeat of the same request joins the running one, another request fails `ReferenceConflict`.',
    input: () => schemas().identityVerification,
  },
  {
    name: 'checkCode',
    kind: 'sync',
    summary:
      "The phone verification's `checkCode` update, by `id` or by the `reference` it was started with; a retried " +
      'request is the same update (its request ID is the update ID).',
    input: () => schemas().checkCode,
  },
  {
    name: 'nextChannel',
    kind: 'sync',
    summary: 'The phone verification\'s `nextChannel` update ("call me instead"), by `id` or `reference`.',
    input: () => schemas().phoneRef,
  },
  {
    name: 'resend',
    kind: 'sync',
    summary:
      "The phone verification's `resend` update (sms_gateway channels; elsewhere `ResendNotAvailable`), by `id` or " +
      '`reference`.',
    input: () => schemas().phoneRef,
  },
  {
    name: 'getState',
    kind: 'sync',
    summary: "A verification's `getState` query, by `id` or by `kind` and `reference`.",
    input: () => schemas().getState,
  },
];

/** The input schemas the handlers validate with (built on first use). */
export const nexusSchemas = schemas;
