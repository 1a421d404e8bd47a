import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { OutboxEntry } from '../sandbox/outbox';
import type { CallbackAttempt } from '../sandbox/vonage-emulator';
import { Recorder, SCENARIOS, waitClosed, type FlowContext, type FlowResult, type Scenario } from './lib/scenarios';
import { REPO, System } from './lib/system';
import { http } from './lib/http';
import { ChaosEventsReceiver } from './lib/events-receiver';
import { args, freePort, load, machine, phoneNumber, pool, sleep, writeJson } from './lib/util';
import type { EventDeliveryState } from '../workflows/contract';

/**
 * `npm run chaos`: scripted, bounded failure scenarios on loopback, each reporting lost / duplicated / stuck / wrong
 * counts. The system is the real one (dev server, API and worker processes, provider emulator outside the API);
 * flows retry what a real client retries (503, refused connections) with a caller `reference`, so a retried start is
 * idempotent.
 *
 * Then the `abuse` phase (a system of its own with the default abuse limits): SMS pumping to one number and to one
 * prefix, brute force over the verifications of one number; `exceeded` counts a limit that let more through.
 *
 * Then the `events-receiver-outage` phase (a system of its own whose client has an events endpoint): the receiver is
 * down, answers 500, answers slowly, restarts, while verifications run; every event must reach it once delivered,
 * under one webhook-id.
 *
 * Options: --quick (CI budget) · --only name,name · --n 20 (verifications per scenario) · --fail-on
 * lost,duplicated,stuck,wrong,exceeded (counts that make the exit status 1) · --out FILE.
 */

const opt = args();
const quick = opt.has('quick');
const n = Number(opt.get('n') ?? (quick ? 8 : 20));
const only = new Set((opt.get('only') ?? '').split(',').filter(Boolean));
/** Counts that make the run fail (exit 1); the report always has all of them. */
const failOn = (opt.get('fail-on') ?? 'lost,duplicated,stuck,wrong,exceeded').split(',').filter(Boolean);
const runDir = join(REPO, 'bench', 'tmp', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`);
let numbers = Math.floor(Math.random() * 1_000_000);
const scenario = (name: string): Scenario => SCENARIOS.find((s) => s.name === name)!;

/** What one chaos scenario found. `lost`: a started verification that vanished or a callback dropped for good. */
interface ChaosResult {
  name: string;
  what: string;
  verifications: number;
  completedAsExpected: number;
  lost: number;
  duplicated: number;
  stuck: number;
  wrong: number;
  callbacks: {
    delivered: number;
    retried: number;
    dropped: number;
    answered503: number;
    refused: number;
    slowestAckMs: number;
  };
  notes: string[];
  errors: string[];
  seconds: number;
  load: ReturnType<typeof load>;
}

interface Planned {
  scenario: Scenario;
  count: number;
  concurrency: number;
}

/** Runs flows while `disturb` breaks the system, then checks every verification's final state and the outbox. */
async function chaos(
  name: string,
  what: string,
  sys: System,
  plan: Planned[],
  disturb: (sys: System) => Promise<string[]>,
  deadlineMs = 150_000,
  settleMs = 60_000,
  /** Whether the messages a destination received show a duplicate (default: more than one message). */
  duplicate: (messages: OutboxEntry[]) => boolean = (messages) => messages.length > 1,
): Promise<ChaosResult> {
  const started = performance.now();
  const rec = new Recorder();
  const callbacks = { delivered: 0, retried: 0, dropped: 0, answered503: 0, refused: 0, slowestAckMs: 0 };
  sys.provider.emulator.configure({
    onCallbackAttempt: (a: CallbackAttempt) => {
      if (a.outcome === 'delivered') callbacks.delivered++;
      else if (a.outcome === 'retrying') callbacks.retried++;
      else callbacks.dropped++;
      if (a.httpStatus === 503) callbacks.answered503++;
      if (a.httpStatus === undefined) callbacks.refused++;
      callbacks.slowestAckMs = Math.max(callbacks.slowestAckMs, Math.round(a.ms));
    },
  });
  const prefix = `c${randomUUID().slice(0, 8)}`;
  const results: (FlowResult & { expected: string; startAcked: boolean })[] = [];
  let failedFlows = 0;
  const ctx: FlowContext = {
    sys,
    rec,
    number: () => phoneNumber(numbers++),
    retryUntil: Date.now() + deadlineMs,
    reference: (i) => `${prefix}-${i}`,
  };
  let flowIndex = 0;
  const flows = Promise.all(
    plan.map((p) =>
      pool(p.count, p.concurrency, async () => {
        const i = flowIndex++;
        try {
          const r = await p.scenario.run!(ctx, i);
          results.push({ ...r, expected: p.scenario.expected, startAcked: true });
        } catch (err) {
          failedFlows++;
          rec.error(`${p.scenario.name}: ${(err as Error).message}`);
          // The verification may still exist (started, then the flow gave up): find its state below.
          results.push({
            id: `phone-${prefix}-${i}`,
            status: 'flow-error',
            to: '',
            expected: p.scenario.expected,
            startAcked: !/^start:/.test((err as Error).message),
          });
        }
      }),
    ),
  );
  const notes = await disturb(sys);
  await flows;

  let lost = 0;
  let stuck = 0;
  let wrong = 0;
  let ok = 0;
  let neverStarted = 0;
  const finals = await Promise.all(
    results.map((r) =>
      waitClosed(sys, r.id, settleMs).catch((err: Error) => (/not found/i.test(err.message) ? 'not-found' : 'error')),
    ),
  );
  for (const [i, r] of results.entries()) {
    const final = finals[i];
    if (final === 'not-found') {
      if (r.startAcked) lost++;
      else neverStarted++;
    } else if (final === 'stuck' || final === 'error') {
      stuck++;
      rec.error(`${r.id}: still running ${settleMs / 1000} s after its flow ended`);
    } else if (final !== r.expected) {
      wrong++;
      const state = await fetch(`${sys.apiUrl}/v1/verifications/${r.id}`, { headers: sys.authHeader })
        .then((res) => res.json() as Promise<{ reason?: string; channels?: { status: string }[] }>)
        .catch(() => ({ reason: '?' }) as { reason?: string });
      rec.error(`${r.id}: ended ${final} (${state.reason ?? '?'}), expected ${r.expected}`);
    } else ok++;
  }
  // A second SMS for a send the provider accepted shows as more than one outbox entry for one destination.
  const duplicated = results.filter(
    (r) => r.to && !r.to.startsWith('+1500555') && duplicate(sys.provider.outbox.list({ to: r.to })),
  ).length;
  await sleep(1000);
  sys.provider.emulator.configure({ onCallbackAttempt: undefined });
  const result: ChaosResult = {
    name,
    what,
    verifications: results.length,
    completedAsExpected: ok,
    lost,
    duplicated,
    stuck,
    wrong,
    callbacks,
    notes: [
      ...notes,
      ...(failedFlows ? [`${failedFlows} flow(s) gave up on the client side`] : []),
      ...(neverStarted
        ? [`${neverStarted} start(s) never acknowledged (client saw an error; nothing was started)`]
        : []),
    ],
    errors: rec.errors.slice(0, 8),
    seconds: Math.round((performance.now() - started) / 1000),
    load: load(),
  };
  console.log(
    `${name}: ${ok}/${results.length} as expected · lost ${lost} · duplicated ${duplicated} · stuck ${stuck} · ` +
      `wrong ${wrong} · callbacks ${JSON.stringify(callbacks)} (${result.seconds} s)`,
  );
  return result;
}

/** Waits until `count` messages to fresh numbers have reached the outbox (the flows are past their first step). */
async function untilSent(sys: System, baseline: number, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (sys.provider.outbox.sent.size < baseline + count && Date.now() < deadline) await sleep(100);
}

const SCENARIO_LIST: { name: string; what: string; run: (sys: System) => Promise<ChaosResult> }[] = [
  {
    name: 'worker-kill-during-start',
    what: 'kill -9 the worker while the first provider requests are in flight, restart it 2 s later',
    run: (sys) =>
      chaos(
        'worker-kill-during-start',
        'kill -9 during the start activities',
        sys,
        [{ scenario: scenario('phone-sms-happy'), count: n, concurrency: n }],
        async (s) => {
          await sleep(400);
          await s.worker!.kill9();
          await sleep(2000);
          await s.startWorker();
          return ['worker killed 400 ms after the starts, restarted after 2 s'];
        },
      ),
  },
  {
    name: 'worker-kill-start-answer-lost',
    what: 'kill -9 the worker after the provider accepted a new request (SMS sent) but before its answer arrived',
    run: (sys) =>
      chaos(
        'worker-kill-start-answer-lost',
        'kill -9 while start activities wait for the provider answer (the provider already sent the SMS)',
        sys,
        [{ scenario: scenario('phone-sms-happy'), count: Math.min(n, 6), concurrency: Math.min(n, 6) }],
        async (s) => {
          s.provider.emulator.configure({ replyDelayMs: 2000 });
          const baseline = s.provider.outbox.sent.size;
          await untilSent(s, baseline, Math.min(n, 6));
          await s.worker!.kill9();
          s.provider.emulator.configure({ replyDelayMs: 0 });
          await sleep(1000);
          await s.startWorker();
          return [
            'provider answers delayed 2 s; worker killed once every SMS was sent; the activity retries 30 s later',
          ];
        },
      ),
  },
  {
    name: 'worker-kill-while-waiting',
    what: 'kill -9 the worker while verifications wait for their codes; codes are submitted while it is down',
    run: (sys) => {
      const baseline = sys.provider.outbox.sent.size;
      return chaos(
        'worker-kill-while-waiting',
        'kill -9 while waiting on the SMS timer; checks sent while no worker runs',
        sys,
        [{ scenario: scenario('phone-sms-happy'), count: n, concurrency: n }],
        async (s) => {
          await untilSent(s, baseline, n);
          await s.worker!.kill9();
          await sleep(3000);
          await s.startWorker();
          return ['worker killed once every SMS was sent; restarted after 3 s'];
        },
      );
    },
  },
  {
    name: 'worker-kill-during-check',
    what: 'kill -9 the worker after the provider accepted the code but before its answer reached the worker',
    run: async (sys) => {
      const baseline = sys.provider.outbox.sent.size;
      const result = await chaos(
        'worker-kill-during-check',
        'kill -9 while check-code activities wait for the provider answer (the provider already accepted the code)',
        sys,
        [{ scenario: scenario('phone-sms-happy'), count: Math.min(n, 6), concurrency: Math.min(n, 6) }],
        async (s) => {
          await untilSent(s, baseline, Math.min(n, 6));
          s.provider.emulator.configure({ replyDelayMs: 1500 });
          await sleep(700);
          await s.worker!.kill9();
          s.provider.emulator.configure({ replyDelayMs: 0 });
          await sleep(1000);
          await s.startWorker();
          return [
            'provider answers delayed 1.5 s; worker killed 0.7 s after the checks; the checks run again once their ' +
              'lost workflow tasks time out (local activities; 30 s later as activities, before release-2026-12-05)',
          ];
        },
      );
      return result;
    },
  },
  {
    name: 'worker-kill-during-otp-send',
    what: 'kill -9 the worker while our own code is at the SMS gateway (sent, its answer not back yet)',
    run: async (sys) => {
      const count = Math.min(n, 6);
      const baseline = sys.provider.outbox.sent.size;
      sys.provider.smsGatewayReplyDelayMs = 3000;
      const result = await chaos(
        'worker-kill-during-otp-send',
        'kill -9 while otpSend waits for the gateway (the gateway already took the message)',
        sys,
        [{ scenario: scenario('phone-otp-happy'), count, concurrency: count }],
        async (s) => {
          await untilSent(s, baseline, count);
          await s.worker!.kill9();
          s.provider.smsGatewayReplyDelayMs = 0;
          await sleep(1000);
          await s.startWorker();
          return [
            'gateway answers held 3 s; worker killed once every code was sent; the send heartbeats (10 s timeout), so ' +
              'it is retried within seconds and sends the same code again: the first code completes the verification',
          ];
        },
        150_000,
        60_000,
        // A duplicate here is a message with another code (the user's first code would be dead), or more than two.
        (messages) => messages.length > 2 || new Set(messages.map((m) => m.code)).size > 1,
      );
      sys.provider.smsGatewayReplyDelayMs = 0;
      return result;
    },
  },
  {
    name: 'temporal-restart',
    what: 'stop the Temporal dev server (SQLite file) mid-run, restart it on the same file 5 s later',
    run: (sys) =>
      chaos(
        'temporal-restart',
        'dev server stopped mid-run and restarted on its SQLite file; webhooks meanwhile answered 503',
        sys,
        [
          { scenario: scenario('phone-sms-happy'), count: Math.ceil(n / 2), concurrency: Math.ceil(n / 2) },
          { scenario: scenario('phone-silent-auth-happy'), count: Math.ceil(n / 2), concurrency: Math.ceil(n / 2) },
        ],
        async (s) => {
          // Callbacks are held 3 s so that those of the verifications started before the stop arrive during it.
          s.provider.emulator.configure({ callbackDelayMs: 3000 });
          await sleep(1500);
          await s.stopTemporal();
          // Longer than the webhooks' 5-s delivery deadline, so callbacks that arrive now are answered 503.
          await sleep(12_000);
          await s.startTemporal();
          s.provider.emulator.configure({ callbackDelayMs: 50 });
          return ['dev server down for 12 s plus its restart time; callbacks delayed 3 s to land in the outage'];
        },
      ),
  },
  {
    name: 'api-restart',
    what: 'kill -9 the API while callbacks flow; the emulator retries non-2xx callbacks',
    run: (sys) =>
      chaos(
        'api-restart',
        'API killed (-9) and restarted while callbacks flow',
        sys,
        [{ scenario: scenario('phone-silent-auth-happy'), count: n, concurrency: n }],
        async (s) => {
          await sleep(800);
          await s.api!.kill9();
          await sleep(500);
          await s.startApi();
          return ['API killed 0.8 s into the run, restarted 0.5 s later (plus its boot time)'];
        },
      ),
  },
  {
    name: 'callbacks-3x-shuffled',
    what: 'every callback delivered 3 times, shuffled within 400 ms',
    run: async (sys) => {
      sys.provider.emulator.configure({ callbackCopies: 3, callbackShuffleMs: 400 });
      try {
        return await chaos(
          'callbacks-3x-shuffled',
          'each callback 3×, in random order',
          sys,
          [
            { scenario: scenario('phone-silent-auth-happy'), count: n, concurrency: Math.min(n, 10) },
            { scenario: scenario('phone-silent-auth-fallback'), count: quick ? 2 : 4, concurrency: 1 },
            { scenario: scenario('phone-user-rejected'), count: quick ? 2 : 4, concurrency: 1 },
          ],
          async () => [],
        );
      } finally {
        sys.provider.emulator.configure({ callbackCopies: 1, callbackShuffleMs: 0 });
      }
    },
  },
  {
    name: 'provider-outage-short',
    what: 'the provider answers 503 (Retry-After: 1) for 2 s: activities retry, then succeed',
    run: async (sys) => {
      // Well inside the start's retry budget (providerRetrySeconds, 120 s by default).
      const seconds = 2;
      sys.provider.emulator.configure({ outage: { until: Date.now() + seconds * 1000, retryAfterSeconds: 1 } });
      const r = await chaos(
        'provider-outage-short',
        `provider 503 for ${seconds} s`,
        sys,
        [{ scenario: scenario('phone-sms-happy'), count: n, concurrency: n }],
        async () => [`outage of ${seconds} s from the first start`],
      );
      return r;
    },
  },
  {
    name: 'provider-outage-minute',
    what: 'the provider answers 503 for a minute (12 s in --quick): starts are retried within their 120-s budget',
    run: async (sys) => {
      const seconds = quick ? 12 : 60;
      sys.provider.emulator.configure({ outage: { until: Date.now() + seconds * 1000, retryAfterSeconds: 2 } });
      const r = await chaos(
        'provider-outage-minute',
        `provider 503 for ${seconds} s (Retry-After 2 s), inside the default providerRetrySeconds (120)`,
        sys,
        [{ scenario: scenario('phone-sms-happy'), count: Math.min(n, 5), concurrency: Math.min(n, 5) }],
        async () => [`outage of ${seconds} s from the first start; the SMS goes out once it ends`],
      );
      sys.provider.emulator.configure({ outage: undefined });
      return r;
    },
  },
  {
    name: 'provider-outage-long',
    what: 'the provider answers 503 longer than the verification allows (providerRetrySeconds 5): it fails over',
    run: async (sys) => {
      const seconds = quick ? 12 : 60;
      sys.provider.emulator.configure({ outage: { until: Date.now() + seconds * 1000, retryAfterSeconds: 2 } });
      const all = scenario('phone-all-channels-fail');
      const failing: Scenario = {
        ...all,
        name: 'phone-during-outage',
        expected: 'failed',
        run: async (ctx, index) => {
          const to = ctx.number();
          const res = await fetch(`${ctx.sys.apiUrl}/v1/verifications/phone`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...ctx.sys.authHeader },
            body: JSON.stringify({
              to,
              brand: 'Bench',
              channels: [{ channel: 'sms' }],
              providerRetrySeconds: 5,
              reference: ctx.reference!(index),
            }),
          });
          const body = (await res.json()) as { id: string };
          return { id: body.id, status: await waitClosed(ctx.sys, body.id, 120_000), to };
        },
      };
      const r = await chaos(
        'provider-outage-long',
        `provider 503 for ${seconds} s (longer than providerRetrySeconds 5)`,
        sys,
        [{ scenario: failing, count: Math.min(n, 5), concurrency: Math.min(n, 5) }],
        async () => [
          `outage of ${seconds} s; only Vonage is configured, so there is no other provider to fall back to`,
        ],
      );
      sys.provider.emulator.configure({ outage: undefined });
      return r;
    },
  },
];

/** What the abuse phase measured: attempts, what the limits let through, and whether it stayed within them. */
interface AbuseResult {
  name: string;
  what: string;
  attempts: number;
  answers: Record<string, number>;
  /** Messages sent (to the number, to the prefix) or wrong codes evaluated (the guesses). */
  through: number;
  limit: number;
  exceeded: boolean;
  seconds: number;
}

/**
 * `abuse`: SMS pumping and brute force, bounded and on loopback, against the default limits (a system of its own):
 * 1 000 starts to one number, 1 000 to the numbers of one prefix, 1 000 wrong guesses spread over the verifications
 * of one number. What gets through (messages sent, wrong codes evaluated) must stay within the configured limits.
 */
async function abusePhase(count: number): Promise<AbuseResult[]> {
  const sys = await System.start({ runDir: join(runDir, 'abuse'), persistent: false, limits: {} });
  const statusCounts = (statuses: number[]) =>
    statuses.reduce<Record<string, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
  const start = (to: string, extra: Record<string, unknown> = {}) =>
    http<{ id: string }>(
      'POST',
      `${sys.apiUrl}/v1/verifications/phone`,
      { to, brand: 'Bench', channels: [{ channel: 'sms', provider: 'sms_gateway', gateway: 'bench' }], ...extra },
      60_000,
      sys.authHeader,
    );
  const sent = (to: string) => sys.provider.outbox.sent.get(to.replace(/\D/g, '')) ?? 0;
  const rows: AbuseResult[] = [];
  const row = async (
    name: string,
    what: string,
    limit: number,
    run: () => Promise<{ statuses: number[]; through: number }>,
  ) => {
    const started = performance.now();
    const { statuses, through } = await run();
    const r = {
      name,
      what,
      attempts: statuses.length,
      answers: statusCounts(statuses),
      through,
      limit,
      exceeded: through > limit,
      seconds: Math.round((performance.now() - started) / 1000),
    };
    console.log(
      `${name}: ${r.attempts} attempts → ${through} through (limit ${limit}) · answers ${JSON.stringify(r.answers)}`,
    );
    rows.push(r);
  };
  try {
    const base = 3_000_000 + Math.floor(Math.random() * 900) * 1000;
    await row('abuse-one-number', `${count} starts to one number (LIMIT_SENDS_PER_DESTINATION 5/10m)`, 5, async () => {
      const to = `+1212${base + 999}`;
      const statuses: number[] = [];
      await pool(count, 50, async () => void statuses.push((await start(to)).status));
      await sleep(3000);
      return { statuses, through: sent(to) };
    });
    await row(
      'abuse-one-prefix',
      `${count} starts to ${count} numbers of one prefix (LIMIT_SENDS_PER_PREFIX 50/10m)`,
      50,
      async () => {
        const prefix = base + 1000;
        const numbers = Array.from({ length: count }, (_, i) => `+1212${prefix + (i % 1000)}`);
        const statuses: number[] = [];
        await pool(count, 50, async (i) => void statuses.push((await start(numbers[i])).status));
        await sleep(3000);
        return { statuses, through: [...new Set(numbers)].reduce((t, to) => t + sent(to), 0) };
      },
    );
    await row(
      'abuse-wrong-guesses',
      `${count} wrong guesses over the verifications of one number (LIMIT_FAILED_CHECKS_PER_DESTINATION 15/1h)`,
      15,
      async () => {
        const to = `+1212${base + 2000}`;
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await start(to, { maxCodeAttempts: 10 });
          if (res.status === 201 || res.status === 202) ids.push(res.body.id);
        }
        await sys.provider.outbox.waitFor(to, ids.length - 1, 30_000);
        const statuses: number[] = [];
        let evaluated = 0;
        await pool(count, 20, async (i) => {
          const res = await http<{ status?: string }>(
            'POST',
            `${sys.apiUrl}/v1/verifications/${ids[i % ids.length]}/check`,
            { code: '000000' },
            60_000,
            sys.authHeader,
          );
          statuses.push(res.status);
          if (res.status === 200 && (res.body.status === 'invalid_code' || res.body.status === 'failed')) evaluated++;
        });
        return { statuses, through: evaluated };
      },
    );
  } finally {
    await sys.stop();
  }
  return rows;
}

/** What the events phase found. `lost`: an event its verification announced that never reached the receiver. */
interface EventsChaosResult {
  name: string;
  what: string;
  verifications: number;
  completedAsExpected: number;
  /** Events the verifications announced (their delivery workflows' lists). */
  events: number;
  /** Of those, delivered (a 2xx taken by the receiver, under the event's own webhook-id). */
  delivered: number;
  lost: number;
  /** Events that reached the receiver under two different webhook-ids. */
  duplicated: number;
  /** Deliveries whose signature did not verify with the library. */
  badSignatures: number;
  /** POSTs the receiver read, by what it answered (`late`: a slow answer after the sender had given up). */
  answers: Record<string, number>;
  /** Events taken more than once under the same webhook-id (at least once: a receiver dedupes by it). */
  takenAgainSameId: number;
  /** Tries per delivered event: median and maximum (GET /v1/events `attempts`). */
  attempts: { median: number; max: number };
  /** Seconds from the receiver's recovery (the restart) until the last event was delivered. */
  secondsToDrain: number;
  notes: string[];
  errors: string[];
  seconds: number;
  load: ReturnType<typeof load>;
}

/**
 * `events-receiver-outage`: verifications start one after another while the client's events receiver is down (the
 * port refuses connections), then answers 500, then answers each POST only after 20 s (past the 15-s try timeout),
 * then is restarted and stays up. Every announced event must end delivered, taken under its own webhook-id only.
 * Durations: a minute down, 20 s of 500s, 40 s slow (--quick: 12 s, 6 s, 20 s). The verification flows must not
 * notice any of it.
 */
async function eventsPhase(): Promise<EventsChaosResult> {
  const down = quick ? 12 : 60;
  const errors500 = quick ? 6 : 20;
  const slow = quick ? 20 : 40;
  const count = Math.min(n, quick ? 8 : 20);
  const receiver = await ChaosEventsReceiver.start(await freePort());
  const { secret } = receiver;
  const started = performance.now();
  const sys = await System.start({
    runDir: join(runDir, 'events'),
    persistent: false,
    events: { url: receiver.url, secret },
  });
  const rec = new Recorder();
  const notes: string[] = [];
  try {
    await receiver.stop();
    const t0 = performance.now();
    const disturbed = down + errors500 + slow;
    // Starts spread over the disturbance: each phase gets new events, the first ones meet every phase.
    const spacingMs = Math.floor((disturbed * 1000) / count);
    const happy = scenario('phone-sms-happy');
    const prefix = `e${randomUUID().slice(0, 8)}`;
    const ctx: FlowContext = {
      sys,
      rec,
      number: () => phoneNumber(numbers++),
      retryUntil: Date.now() + 600_000,
      reference: (i) => `${prefix}-${i}`,
    };
    const flows: FlowResult[] = [];
    const flowsDone = pool(count, count, async (i) => {
      await sleep(i * spacingMs);
      try {
        flows.push(await happy.run!(ctx, i));
      } catch (err) {
        rec.error(`flow ${i}: ${(err as Error).message}`);
      }
    });
    await sleep(down * 1000);
    await receiver.listen();
    receiver.mode = 'error';
    await sleep(errors500 * 1000);
    receiver.mode = 'slow';
    await sleep(slow * 1000);
    // The restart cuts the slow answers still held; it comes back answering 204.
    await receiver.stop();
    await sleep(2000);
    receiver.mode = 'ok';
    await receiver.listen();
    const recoveredAt = performance.now();
    const recoveredEpoch = Date.now();
    notes.push(
      `receiver down ${down} s, 500 for ${errors500} s, slow (20-s answers) for ${slow} s, restarted (2 s) at ` +
        `${Math.round((recoveredAt - t0) / 1000)} s; ${count} verifications started ${spacingMs} ms apart`,
    );
    await flowsDone;

    // Every announced event settled (not pending), read as the client reads it: GET /v1/events.
    const deadline = Date.now() + 600_000;
    const states: EventDeliveryState[] = [];
    for (const f of flows) {
      for (;;) {
        const res = await http<EventDeliveryState>(
          'GET',
          `${sys.apiUrl}/v1/events?verificationId=${encodeURIComponent(f.id)}`,
          undefined,
          30_000,
          sys.authHeader,
        );
        const s = res.body;
        const settled =
          res.status === 200 &&
          /\.(completed|failed|expired|cancelled)$/.test(s.events.at(-1)?.type ?? '') &&
          s.events.every((e) => e.status !== 'pending');
        if (settled || Date.now() > deadline) {
          if (res.status === 200) states.push(s);
          else rec.error(`${f.id}: GET /v1/events answered ${res.status}`);
          break;
        }
        await sleep(1000);
      }
    }
    const announced = states.flatMap((s) => s.events);
    const deliveredRecords = announced.filter((e) => e.status === 'delivered');
    const lastDelivered = Math.max(...deliveredRecords.map((e) => Date.parse(e.deliveredAt ?? '') || 0));
    const taken = receiver.deliveries.filter((d) => d.verified && d.answered === 204);
    const takenIds = new Set(taken.map((d) => d.webhookId));
    let lost = 0;
    for (const e of announced) {
      if (e.status !== 'delivered' || !takenIds.has(e.id)) {
        lost++;
        rec.error(`${e.id} (${e.type}): ${e.status}, ${takenIds.has(e.id) ? 'taken' : 'never taken'} by the receiver`);
      }
    }
    for (const f of flows) {
      if (!states.some((s) => s.verificationId === f.id)) {
        lost++;
        rec.error(`${f.id}: no events`);
      }
    }
    // One event, one webhook-id: the same verification, type and time under two IDs would be a duplicate.
    const idsPerEvent = new Map<string, Set<string>>();
    for (const d of receiver.deliveries) {
      if (!d.event) continue;
      const key = `${d.event.data.verificationId}|${d.event.type}|${d.event.timestamp}`;
      idsPerEvent.set(key, (idsPerEvent.get(key) ?? new Set()).add(d.webhookId));
    }
    const duplicated = [...idsPerEvent.values()].filter((ids) => ids.size > 1).length;
    const timesTaken = new Map<string, number>();
    for (const d of taken) timesTaken.set(d.webhookId, (timesTaken.get(d.webhookId) ?? 0) + 1);
    const answers = receiver.deliveries.reduce<Record<string, number>>(
      (m, d) => ({ ...m, [String(d.answered)]: (m[String(d.answered)] ?? 0) + 1 }),
      {},
    );
    const tries = deliveredRecords.map((e) => e.attempts).sort((a, b) => a - b);
    const result: EventsChaosResult = {
      name: 'events-receiver-outage',
      what: 'the events receiver down, answering 500, answering slowly, restarted, while verifications run',
      // A flow that gave up counts as a verification not completed as expected (`wrong` in the totals).
      verifications: count,
      completedAsExpected: flows.filter((f) => f.status === happy.expected).length,
      events: announced.length,
      delivered: deliveredRecords.filter((e) => takenIds.has(e.id)).length,
      lost,
      duplicated,
      badSignatures: receiver.deliveries.filter((d) => !d.verified).length,
      answers,
      takenAgainSameId: [...timesTaken.values()].filter((t) => t > 1).length,
      attempts: { median: tries[Math.floor(tries.length / 2)] ?? 0, max: tries.at(-1) ?? 0 },
      secondsToDrain: lastDelivered ? Math.max(0, Math.round((lastDelivered - recoveredEpoch) / 1000)) : -1,
      notes,
      errors: rec.errors.slice(0, 8),
      seconds: Math.round((performance.now() - started) / 1000),
      load: load(),
    };
    console.log(
      `${result.name}: ${result.completedAsExpected}/${count} verifications as expected · events ${result.events} · ` +
        `delivered ${result.delivered} · lost ${lost} · duplicated ${duplicated} · bad signatures ` +
        `${result.badSignatures} · answers ${JSON.stringify(answers)} · tries median ${result.attempts.median} max ` +
        `${result.attempts.max} · drained ${result.secondsToDrain} s after the restart (${result.seconds} s)`,
    );
    return result;
  } finally {
    await sys.stop();
    await receiver.stop();
  }
}

async function main(): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const out = opt.get('out') ?? join(REPO, 'bench', 'results', `chaos-${date}${quick ? '-quick' : ''}.json`);
  const results: Record<string, unknown> = {
    kind: 'verifyflow-chaos',
    startedAt: new Date().toISOString(),
    command: `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machine(),
    options: { quick, n },
    loadAtStart: load(),
  };
  const selected = SCENARIO_LIST.filter((s) => !only.size || only.has(s.name));
  const rows: ChaosResult[] = [];
  if (selected.length) {
    const sys = await System.start({
      runDir,
      persistent: true,
      // Real providers retry callbacks for hours; 8 doubling retries from 250 ms cover about a minute here.
      emulator: { callbackRetries: 8, callbackRetryBaseMs: 250 },
    });
    try {
      for (const s of selected) rows.push(await s.run(sys));
    } finally {
      await sys.stop();
    }
  }
  results.scenarios = rows;
  const abuse = !only.size || only.has('abuse') ? await abusePhase(quick ? 300 : 1000) : [];
  results.abuse = abuse;
  const events = !only.size || only.has('events-receiver-outage') ? [await eventsPhase()] : [];
  results.events = events;
  results.totals = rows.reduce(
    (t, r) => ({
      ...t,
      lost: t.lost + r.lost,
      duplicated: t.duplicated + r.duplicated,
      stuck: t.stuck + r.stuck,
      wrong: t.wrong + r.wrong,
    }),
    {
      lost: events.reduce((t, e) => t + e.lost, 0),
      duplicated: events.reduce((t, e) => t + e.duplicated, 0),
      stuck: 0,
      wrong: events.reduce((t, e) => t + e.verifications - e.completedAsExpected, 0),
      exceeded: abuse.filter((a) => a.exceeded).length,
    },
  );
  results.loadAtEnd = load();
  results.finishedAt = new Date().toISOString();
  results.failOn = failOn;
  await writeJson(out, results);
  console.log(`\nwrote ${out}`);
  const totals = results.totals as Record<string, number>;
  const failing = failOn.filter((k) => (totals[k] ?? 0) > 0);
  if (failing.length) {
    console.log(`chaos: failing on ${failing.map((k) => `${k}=${totals[k]}`).join(', ')}`);
    process.exitCode = 1;
  }
  console.log(
    '| scenario | verifications | as expected | lost | duplicated | stuck | wrong | callbacks 503 / retried / dropped |',
  );
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.verifications} | ${r.completedAsExpected} | ${r.lost} | ${r.duplicated} | ${r.stuck} | ${r.wrong} | ` +
        `${r.callbacks.answered503} / ${r.callbacks.retried} / ${r.callbacks.dropped} |`,
    );
  }
  if (abuse.length) {
    console.log('\n| abuse | attempts | through | limit | answers |');
    for (const a of abuse) {
      console.log(`| ${a.name} | ${a.attempts} | ${a.through} | ${a.limit} | ${JSON.stringify(a.answers)} |`);
    }
  }
  if (events.length) {
    console.log(
      '\n| events | verifications | events | delivered | lost | duplicated | answers | tries median / max | drained s |',
    );
    for (const e of events) {
      console.log(
        `| ${e.name} | ${e.verifications} | ${e.events} | ${e.delivered} | ${e.lost} | ${e.duplicated} | ` +
          `${JSON.stringify(e.answers)} | ${e.attempts.median} / ${e.attempts.max} | ${e.secondsToDrain} |`,
      );
    }
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
