import { z } from 'zod';
import {
  DEFAULT_TASK_QUEUE,
  FailureType,
  LIVE_STATUSES,
  REASONS,
  SEARCH_ATTRIBUTES,
  TERMINAL_STATUSES,
  VERIFICATION_NEXUS_OPERATIONS,
  VERIFICATION_NEXUS_SERVICE,
  WORKFLOW_CONTRACTS,
  type ContractMessage,
  type WorkflowContract,
} from '../../workflows/contract';
import { VONAGE_CALLBACK_HANDLING } from '../../providers/vonage/verify-callback';

const schema = (s: z.ZodType, io: 'input' | 'output') =>
  '```json\n' + JSON.stringify(z.toJSONSchema(s, { io, unrepresentable: 'any' }), null, 2) + '\n```';
const codes = (values: readonly string[]) => values.map((s) => `\`${s}\``).join(', ');

const MESSAGE_KINDS = [
  ['update', 'Update'],
  ['signal', 'Signal'],
  ['query', 'Query'],
] as const;

/** One workflow kind's section: summary, IDs, input, result, then its updates, signals and queries. */
function renderWorkflow(wf: WorkflowContract): string[] {
  const { input, result } = wf.schemas();
  const lines = [`## Workflow \`${wf.type}\``, '', wf.summary, ''];
  lines.push(`- **Workflow ID**: ${wf.idScheme}; pattern \`${wf.idPattern.source}\``);
  if (wf.kind) lines.push(`- **VerificationKind**: \`${wf.kind}\``);
  if (wf.reasons) lines.push(`- **Reasons** (with a terminal status): ${codes(wf.reasons)}`);
  lines.push(
    '',
    '### Input (one JSON object)',
    '',
    schema(input, 'input'),
    '',
    '### Result',
    '',
    schema(result, 'output'),
  );
  lines.push('');
  const messages: ContractMessage[] = Object.values(wf.messages);
  for (const [type, title] of MESSAGE_KINDS) {
    for (const m of messages.filter((msg) => msg.type === type)) {
      lines.push(`### ${title} \`${m.name}\``, '', m.summary, '');
      if (type === 'update') {
        lines.push(m.input ? `Argument:\n\n${schema(m.input(), 'input')}\n` : 'No argument.\n');
        lines.push(`Result:\n\n${schema(m.result!(), 'output')}`, '');
      } else if (type === 'signal') {
        lines.push(schema(m.input!(), 'input'), '');
      } else {
        lines.push(schema(m.result!(), 'output'), '');
      }
    }
  }
  return lines;
}

/** The `verification` Nexus service: how a caller reaches it, who it acts as, and each operation. */
function renderNexus(): string[] {
  const lines = [
    `## Nexus service \`${VERIFICATION_NEXUS_SERVICE}\``,
    '',
    'The other way in for a workflow in another namespace, without hosting our workflows: call the operations of the',
    `\`${VERIFICATION_NEXUS_SERVICE}\` service through a Nexus endpoint that targets our worker's namespace and task queue`,
    '(TypeScript: `createNexusServiceClient({ endpoint, service: verificationNexusService })`; any SDK with Nexus',
    'support: the service and operation names and the JSON payloads below). `npm run dev` creates the endpoint',
    '`verifyflow`; on a cluster of your own: `temporal operator nexus endpoint create --name <endpoint>',
    '--target-namespace <namespace> --target-task-queue verification`.',
    '',
    '- **Who the caller is**: the API client the endpoint is mapped to (`NEXUS_ENDPOINTS=<endpoint>:<client>`). Its',
    '  runs carry that client (`client` input, `VerificationClient`, IDs `<kind>-<client>-…`) like REST starts of the',
    "  client; the other operations reach only its verifications (another's answers `NOT_FOUND`, like none). An",
    "  endpoint mapped to no client is refused (`UNAUTHORIZED`); who may call an endpoint is Temporal's to enforce.",
    '- **Errors**: bad input → handler error `BAD_REQUEST` naming the fields; a refusal of the abuse guard or of the',
    "  workflow (`RateLimited`, `DestinationNotAllowed`, `NotLive`, an update validator's `InvalidInput`) → a failed",
    '  operation whose cause is the `ApplicationFailure` with that `type` (the SDK wraps it in one of type',
    '  `OperationError`).',
    "- **Payloads**: results are encoded by our worker's data converter: callers use the same payload codec.",
    '',
    '| operation | kind | what it does |',
    '|---|---|---|',
    ...VERIFICATION_NEXUS_OPERATIONS.map((o) => `| \`${o.name}\` | ${o.kind} | ${o.summary} |`),
    '',
  ];
  for (const o of VERIFICATION_NEXUS_OPERATIONS) {
    lines.push(`### Operation \`${o.name}\``, '');
    if (o.kind === 'workflow run') {
      lines.push(
        `Input: the input of [\`${o.name}\`](#workflow-${o.name.toLowerCase()}) without \`client\` and \`events\`` +
          `${o.name === 'phoneVerification' ? ' and `firstSendCounted`' : ''}${o.name === 'pushVerification' ? ' (its `fallback`: the input of the `phoneVerification` operation)' : ''} (the service sets them). Result: its result.`,
        '',
      );
    } else {
      lines.push('Input:', '', schema(o.input(), 'input'), '');
      lines.push(
        o.name === 'checkCode'
          ? 'Result: the result of `checkCode` (see phoneVerification).'
          : 'Result: the state of the verification (`getState` of its kind).',
        '',
      );
    }
  }
  return lines;
}

/**
 * Renders docs/CONTRACT.md from the descriptors of workflows/contract/ (every kind in WORKFLOW_CONTRACTS, every
 * message of each); a test keeps the committed file equal to this.
 */
export function renderContract(): string {
  const lines: string[] = [
    '# verifyflow contract',
    '',
    '<!-- Generated from workflows/contract/ by `npm run docs:contract`; a test fails when it drifts. -->',
    '',
    'Everything another service needs to start and drive verifications with any Temporal client (Go, Java, Python,',
    'TypeScript, the `temporal` CLI). Payloads are plain JSON (`json/plain`) unless the deployment enables the',
    'encrypting payload codec, in which case clients use the same codec (or the codec server).',
    '',
    `- **Task queue**: \`${DEFAULT_TASK_QUEUE}\` (configurable per deployment).`,
    '- **Namespace**: whatever the deployment uses (`default` on the dev server).',
    `- **Workflow types**: ${WORKFLOW_CONTRACTS.map((c) => `[\`${c.type}\`](#workflow-${c.type.toLowerCase()})`).join(', ')}.`,
    `- **Live statuses**: ${codes(LIVE_STATUSES)}; **terminal**: ${codes(TERMINAL_STATUSES)}.`,
    `- **Reasons** (with a terminal status): ${codes(REASONS)}; identityVerification has its own (below).`,
    `- **Failure types** (\`ApplicationFailure.type\`, non-retryable): ${codes(Object.values(FailureType))}. An update rejected by its validator never enters history.`,
    '- **An update aborted with its workflow task**: an update can fail with gRPC `FAILED_PRECONDITION` "Unable to perform',
    '  workflow execution update due to unexpected workflow task failure" when the server refused the workflow task that',
    "  carried it (a phone check runs inside its update's task, which on a right code also completes the run; a signal or",
    '  another update landing while that task is out makes the server refuse it). Nothing of that update was kept: send it',
    '  again with the same update ID (the REST API and the Nexus operations do, three sends in all). If the run ended in',
    "  between, read its result instead: for `checkCode`, a run that ended `completed` is the check's `completed`.",
    '',
    '## Workflow IDs',
    '',
    '| workflow type | ID scheme | pattern |',
    '|---|---|---|',
    ...WORKFLOW_CONTRACTS.map(
      (c) => `| \`${c.type}\` | ${c.idScheme} | \`${c.idPattern.source.replace(/\|/g, '\\|')}\` |`,
    ),
    '',
    '## Search attributes',
    '',
    '| name | type | value |',
    '|---|---|---|',
    ...SEARCH_ATTRIBUTES.map((k) => `| \`${k.name}\` | ${k.type} | ${SA_MEANING[k.name] ?? ''} |`),
    '',
    'They never hold PII or codes. Register them on a cluster with `npm run temporal:register-search-attributes`.',
    '',
    '## Vonage Verify v2 callbacks',
    '',
    'What `POST /webhooks/vonage` does with each callback once its signature is verified (as `providerEvent` signals',
    'to `phoneVerification`):',
    '',
    '| callback | effect |',
    '|---|---|',
    ...VONAGE_CALLBACK_HANDLING.map((h) => `| ${h.callback} | ${h.effect} |`),
    '',
  ];
  lines.push(...renderNexus());
  for (const wf of WORKFLOW_CONTRACTS) lines.push(...renderWorkflow(wf));
  return lines.join('\n');
}

const SA_MEANING: Record<string, string> = {
  VerificationKind: WORKFLOW_CONTRACTS.filter((c) => c.kind)
    .map((c) => `\`${c.kind}\` (${c.type})`)
    .join(', '),
  VerificationStatus: 'the status (live or terminal)',
  VerificationChannel: 'the current channel (`silent_auth`, `sms`, …)',
  VerificationProvider: 'the provider serving the current step (`vonage`, …)',
  VerificationProviderRef: '`provider:id` of every provider request/session (e.g. `vonage:<request_id>`)',
  VerificationClient: 'the API client that owns the run (children inherit it); absent for Temporal callers without one',
};
