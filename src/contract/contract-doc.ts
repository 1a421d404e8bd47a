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
      '`phone-<reference>` (start with conflict policy USE_EXISTING: a repeat joins the running one) or `phone-<32 hex>`',
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
  VerificationKind: '`phone`, `push`, `identity`',
  VerificationStatus: 'the status (live or terminal)',
  VerificationChannel: 'the current channel (`silent_auth`, `sms`, …)',
  VerificationProvider: 'the provider serving the current step (`vonage`, …)',
  VerificationProviderRef: '`provider:id` of every provider request/session (e.g. `vonage:<request_id>`)',
};
