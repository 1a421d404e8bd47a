import { z } from 'zod';
import * as contract from '../../workflows/definitions';

/** One workflow type as other services see it. */
export interface WorkflowContract {
  type: string;
  summary: string;
  idScheme: string;
  input: z.ZodType;
  result: z.ZodType;
  updates: { name: string; input?: z.ZodType; result: z.ZodType; summary: string }[];
  signals: { name: string; input: z.ZodType; summary: string }[];
  queries: { name: string; result: z.ZodType; summary: string }[];
}

/** The workflow types of the contract. Each entry's schemas are the ones the code validates with. */
export const WORKFLOW_CONTRACTS: WorkflowContract[] = [
  {
    type: 'phoneVerification',
    summary: 'Verifies a phone number: silent auth → SMS → voice by default, the workflow owning the fallback.',
    idScheme:
      '`phone-<client>-<reference>` for an API client (the REST API), `phone-<reference>` for a Temporal caller without ' +
      'one (start with conflict policy USE_EXISTING: a repeat joins the running one); random: `phone-<client>-<20 hex>`',
    input: contract.phoneVerificationInputSchema,
    result: contract.verificationStateSchema,
    updates: [
      {
        name: 'checkCode',
        input: contract.checkCodeInputSchema,
        result: contract.checkCodeResultSchema,
        summary: 'Submit a code (OTP, or the silent-auth code with the requestId its redirect chain returned).',
      },
      { name: 'nextChannel', result: contract.verificationStateSchema, summary: 'Move to the next channel now.' },
      {
        name: 'resend',
        result: contract.verificationStateSchema,
        summary:
          'sms_gateway channels: send a new code of ours; the previous one stops working (`ResendNotAvailable` elsewhere or with no resends left).',
      },
      {
        name: 'cancel',
        input: contract.cancelInputSchema,
        result: contract.verificationStateSchema,
        summary: 'Cancel (the argument may be omitted).',
      },
    ],
    signals: [
      {
        name: 'providerEvent',
        input: contract.providerEventSchema,
        summary: 'A normalized provider callback (sent by our webhook controllers); deduplicated by eventId.',
      },
    ],
    queries: [{ name: 'getState', result: contract.verificationStateSchema, summary: 'The current state.' }],
  },
  {
    type: 'identityVerification',
    summary:
      'Verifies an identity document (or ID number) with Stripe Identity: one VerificationSession reused across the ' +
      "user's retries, driven by signed webhooks; last_error codes per seed 003 (terminal at once, or an attempt); a " +
      'deadline; verified outputs in the result only. The client secret is fetched by the REST API on demand, never ' +
      'in the workflow. Reasons are `IDENTITY_REASONS` (Stripe last_error codes included).',
    idScheme:
      '`identity-<client>-<reference>` (`identity-<reference>` without a client; reference = a platform user id, not ' +
      'PII; start with conflict policy USE_EXISTING)',
    input: contract.identityVerificationInputSchema,
    result: contract.identityVerificationResultSchema,
    updates: [
      {
        name: 'cancel',
        input: contract.cancelInputSchema,
        result: contract.identityVerificationStateSchema,
        summary: 'Cancel (the Stripe session too, when Stripe allows it). The argument may be omitted.',
      },
      {
        name: 'redact',
        input: contract.redactInputSchema,
        result: contract.identityRedactionInfoSchema,
        summary: 'End the verification (`cancelled` / `redacted`) and redact the Stripe session now.',
      },
    ],
    signals: [
      {
        name: 'providerEvent',
        input: contract.identityProviderEventSchema,
        summary: 'A Stripe identity.verification_session.* event (sent by /webhooks/stripe); deduplicated by eventId.',
      },
    ],
    queries: [{ name: 'getState', result: contract.identityVerificationStateSchema, summary: 'The current state.' }],
  },
  {
    type: 'identityRedaction',
    summary:
      'Redacts the Stripe session of an identity verification after `delaySeconds` (a durable timer), then waits for ' +
      "Stripe's redacted event. Started by identityVerification (ParentClosePolicy ABANDON) or by the REST API.",
    idScheme: '`redaction-stripe-<session id>`',
    input: contract.identityRedactionInputSchema,
    result: contract.identityRedactionStateSchema,
    updates: [
      {
        name: 'redact',
        input: contract.redactInputSchema,
        result: contract.identityRedactionInfoSchema,
        summary: 'Skip the remaining wait and redact now.',
      },
    ],
    signals: [
      {
        name: 'providerEvent',
        input: contract.identityProviderEventSchema,
        summary: 'The `redacted` event of the session (sent by /webhooks/stripe).',
      },
    ],
    queries: [{ name: 'getState', result: contract.identityRedactionStateSchema, summary: 'The redaction state.' }],
  },
  {
    type: 'pushVerification',
    summary:
      'Verifies a user with one Twilio Verify Push challenge on their enrolled device. Unanswered after ' +
      '`resendAfterSeconds`: its notification is resent (never a second challenge). `challenge.approved` → ' +
      '`completed`; `challenge.denied` → `failed` / `user_denied`; expiry or no verified factor → the `fallback` ' +
      '`phoneVerification` runs as a child (ID `phone-<id without push->`) and its result becomes ours. Without ' +
      'webhooks the challenge is polled every `pollIntervalSeconds`.',
    idScheme:
      '`push-<client>-<reference>` (`push-<reference>` without a client; start with conflict policy USE_EXISTING: a ' +
      'repeat joins the running one); random: `push-<client>-<20 hex>`',
    input: contract.pushVerificationInputSchema,
    result: contract.pushVerificationStateSchema,
    updates: [
      {
        name: 'cancel',
        input: contract.cancelInputSchema,
        result: contract.pushVerificationStateSchema,
        summary: 'Cancel (the fallback child too). The argument may be omitted.',
      },
    ],
    signals: [
      {
        name: 'providerEvent',
        input: contract.pushProviderEventSchema,
        summary: 'A Twilio `challenge.*` webhook (sent by /webhooks/twilio); deduplicated by eventId.',
      },
    ],
    queries: [{ name: 'getState', result: contract.pushVerificationStateSchema, summary: 'The current state.' }],
  },
  {
    type: 'pushEnrollment',
    summary:
      "One per identity: follows the identity's push factors through `factor.created` → `factor.verified` (and " +
      '`factor.deleted`) so the platform can ask for a verified factor without calling Twilio. An access-token ' +
      'request opens an enrollment window (signal-with-start `enrollmentRequested`); it ends `expired` when the ' +
      'window closes unverified, `removed` when every factor was deleted, and runs on while a verified factor exists. ' +
      'A factor verified while the identity already has one is `pending_approval` (no challenge) until `approveFactor`.',
    idScheme: "`push-enrollment-<entity identity>` (an API client's users: `<client>-<identity>`)",
    input: contract.pushEnrollmentInputSchema,
    result: contract.pushEnrollmentStateSchema,
    updates: [
      {
        name: 'approveFactor',
        input: contract.approveFactorInputSchema,
        result: contract.pushEnrollmentStateSchema,
        summary:
          'Approve a `pending_approval` factor with a completed verification: a push approved on another verified ' +
          'factor of the identity, or a phone verification; it must have completed after the factor was created and ' +
          'approves one factor once (else `ApprovalRefused`).',
      },
    ],
    signals: [
      {
        name: 'enrollmentRequested',
        input: contract.enrollmentRequestSchema,
        summary: 'A device got an access token: open or extend the enrollment window (default 600 s).',
      },
      {
        name: 'providerEvent',
        input: contract.pushProviderEventSchema,
        summary:
          'A Twilio `factor.*` webhook (sent by /webhooks/twilio with signal-with-start); deduplicated by eventId.',
      },
    ],
    queries: [{ name: 'getState', result: contract.pushEnrollmentStateSchema, summary: 'The enrollment state.' }],
  },
  {
    type: 'smsDelivery',
    summary:
      'Delivers one SMS (the inbound Auth0-compatible gateway `POST /sms-gateway`) over ordered routes — Vonage SMS API with delivery receipts, HTTP SMS gateways — falling back on send failures and failed receipts; stays open for the dedupe window.',
    idScheme:
      '`sms-<keyed hash of recipient, body and time bucket>` (no PII); start with update-with-start (`awaitAcceptance`) and conflict policy USE_EXISTING',
    input: contract.smsDeliveryInputSchema,
    result: contract.smsDeliveryStateSchema,
    updates: [
      {
        name: 'awaitAcceptance',
        input: contract.awaitAcceptanceInputSchema,
        result: contract.smsDeliveryStateSchema,
        summary: 'Answers once a provider accepted the message, every route failed, or `waitSeconds` passed.',
      },
    ],
    signals: [
      {
        name: 'providerEvent',
        input: contract.providerEventSchema,
        summary: 'A delivery receipt (Vonage SMS API, `ref` = message-id; sent by /webhooks/vonage-sms); deduplicated.',
      },
    ],
    queries: [{ name: 'getState', result: contract.smsDeliveryStateSchema, summary: 'The delivery state.' }],
  },
  {
    type: 'rateLimit',
    summary:
      'A durable sliding-window rate limiter for one key (the inbound SMS gateway: per recipient, per client IP). Ends when idle.',
    idScheme: '`ratelimit-<scope>-<keyed hash of the key>` (no PII); `acquire` with update-with-start, USE_EXISTING',
    input: contract.rateLimitInputSchema,
    result: z.object({ hits: z.number().int() }),
    updates: [
      {
        name: 'acquire',
        input: contract.acquireInputSchema,
        result: contract.acquireResultSchema,
        summary: 'Counts one hit if fewer than `limit` are in the window; else refused with `retryAfterSeconds`.',
      },
    ],
    signals: [],
    queries: [],
  },
  {
    type: 'onboarding',
    summary:
      'Onboards one user: phoneVerification, then identityVerification (then a verified push factor, when asked), each a child workflow; the first step that does not complete ends it.',
    idScheme:
      '`onboarding-<client>-<reference>`; its steps are `phone-<client>-<reference>`, `identity-<client>-<reference>` ' +
      '(without a client, the same without `<client>-`; USE_EXISTING on start)',
    input: contract.onboardingInputSchema,
    result: contract.onboardingResultSchema,
    updates: [
      {
        name: 'cancel',
        input: contract.cancelInputSchema,
        result: contract.onboardingStateSchema,
        summary: 'Cancel the onboarding and its running step.',
      },
    ],
    signals: [],
    queries: [{ name: 'getState', result: contract.onboardingStateSchema, summary: 'Each step with its status.' }],
  },
];

const schema = (s: z.ZodType, io: 'input' | 'output') =>
  '```json\n' + JSON.stringify(z.toJSONSchema(s, { io, unrepresentable: 'any' }), null, 2) + '\n```';

/** Renders docs/CONTRACT.md from the contract module; a test keeps the committed file equal to this. */
export function renderContract(): string {
  const lines: string[] = [
    '# verifyflow contract',
    '',
    '<!-- Generated from workflows/definitions.ts by `npm run docs:contract`; a test fails when it drifts. -->',
    '',
    'Everything another service needs to start and drive verifications with any Temporal client (Go, Java, Python,',
    'TypeScript, the `temporal` CLI). Payloads are plain JSON (`json/plain`) unless the deployment enables the',
    'encrypting payload codec, in which case clients use the same codec (or the codec server).',
    '',
    `- **Task queue**: \`${contract.DEFAULT_TASK_QUEUE}\` (configurable per deployment).`,
    '- **Namespace**: whatever the deployment uses (`default` on the dev server).',
    `- **Live statuses**: ${contract.LIVE_STATUSES.map((s) => `\`${s}\``).join(', ')}; **terminal**: ${contract.TERMINAL_STATUSES.map((s) => `\`${s}\``).join(', ')}.`,
    `- **Reasons** (with a terminal status): ${contract.REASONS.map((s) => `\`${s}\``).join(', ')}.`,
    `- **Failure types** (\`ApplicationFailure.type\`, non-retryable): ${Object.values(contract.FailureType)
      .map((s) => `\`${s}\``)
      .join(', ')}. An update rejected by its validator never enters history.`,
    '',
    '## Search attributes',
    '',
    '| name | type | value |',
    '|---|---|---|',
    ...contract.SEARCH_ATTRIBUTES.map((k) => `| \`${k.name}\` | ${k.type} | ${SA_MEANING[k.name] ?? ''} |`),
    '',
    'They never hold PII or codes. Register them on a cluster with `npm run temporal:register-search-attributes`.',
    '',
  ];
  for (const wf of WORKFLOW_CONTRACTS) {
    lines.push(`## Workflow \`${wf.type}\``, '', wf.summary, '', `- **Workflow ID**: ${wf.idScheme}`, '');
    lines.push('### Input (one JSON object)', '', schema(wf.input, 'input'), '');
    lines.push('### Result', '', schema(wf.result, 'output'), '');
    for (const u of wf.updates) {
      lines.push(`### Update \`${u.name}\``, '', u.summary, '');
      lines.push(u.input ? `Argument:\n\n${schema(u.input, 'input')}\n` : 'No argument.\n');
      lines.push(`Result:\n\n${schema(u.result, 'output')}`, '');
    }
    for (const s of wf.signals) lines.push(`### Signal \`${s.name}\``, '', s.summary, '', schema(s.input, 'input'), '');
    for (const q of wf.queries)
      lines.push(`### Query \`${q.name}\``, '', q.summary, '', schema(q.result, 'output'), '');
  }
  return lines.join('\n');
}

const SA_MEANING: Record<string, string> = {
  VerificationKind:
    '`phone`, `push`, `identity`, `onboarding` (and `push_enrollment` for push enrollments, `sms` for SMS deliveries)',
  VerificationStatus: 'the status (live or terminal)',
  VerificationChannel: 'the current channel (`silent_auth`, `sms`, …)',
  VerificationProvider: 'the provider serving the current step (`vonage`, …)',
  VerificationProviderRef: '`provider:id` of every provider request/session (e.g. `vonage:<request_id>`)',
  VerificationClient: 'the API client that owns the run (children inherit it); absent for Temporal callers without one',
};
